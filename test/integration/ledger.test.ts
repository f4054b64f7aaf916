/**
 * The delivery ledger: every email traced in PostgreSQL, and none sent twice — not for a retried job, not for a
 * key enqueued again after BullMQ forgot the first job, not for two workers racing, not for a database that
 * drops the connection right after the SMTP server said 250.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import { createEmailClient, type EmailClient } from '@email-workers/client';
import { createLedger } from '../../src/db/ledger/index.js';
import { spawnCli } from '../helpers/cli.js';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../helpers/postgres.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { createLogger } from '../../src/logger.js';
import { deliveryKey } from '../../src/queues/delivery-key.js';
import { startWorkers } from '../../src/queues/start-workers.js';
import { startTestWorkers, type TestWorkers, smtpEnv, databaseEnv } from '../helpers/workers.js';

let smtp: SmtpSink;
let db: TestSchema;
let proxy: TcpProxy;
let w: TestWorkers;
let client: EmailClient;
const applicationName = `ledger_${process.pid}_${Date.now()}`;

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('ledger');
  await db.addUser({ id: 1, email: 'member@example.com' });
  // The workers reach PostgreSQL through a proxy that a test can cut.
  proxy = await startTcpProxy(Number(new URL(TEST_DATABASE_URL).port || 5432));
  const url = new URL(TEST_DATABASE_URL);
  url.port = String(proxy.port);
  url.searchParams.set('application_name', applicationName);
  w = await startTestWorkers('ledger', {
    ...smtpEnv(smtp),
    DATABASE_URL: url.toString(),
    DATABASE_CONNECT_TIMEOUT_MS: '500',
    USERS_TABLE: db.usersTable,
    LEDGER_SCHEMA: db.schema,
    MAX_RETRIES: '6',
    RETRY_DELAY: '100ms',
    RETRY_DELAY_MAX: '500ms',
  });
  client = createEmailClient({ redisUrl: TEST_REDIS_URL, prefix: w.prefix });
});

afterAll(async () => {
  await client?.close();
  await w?.stop();
  await smtp?.close();
  await proxy?.close();
  await db?.drop();
});

beforeEach(() => {
  smtp.reply = () => undefined;
});

const rows = async (where: string, values: unknown[]) =>
  (await db.pool.query(`SELECT * FROM ${db.schema}.email_deliveries WHERE ${where}`, values)).rows;
/** The ledger row of a job of `workers` (job ids repeat across the worker sets that share this schema). */
const rowOf = async (job: Job, workers: TestWorkers = w) =>
  (await rows('idempotency_key = $1', [deliveryKey(job.name, job, workers.prefix)]))[0];
const sentTo = (address: string) =>
  smtp.messages.filter((m) => m.to && 'value' in m.to && m.to.value[0]?.address === address).length;
const finish = async (job: Job) => job.waitUntilFinished(await w.events(job.queueName as never), 20_000);

describe('the rows it keeps', () => {
  it('records a success as sent, with the message id and the server reply', async () => {
    const job = await w
      .queue('auth_emails')
      .add('send_welcome_email', { email: 'ok@example.com', correlation_id: 'c-1' });
    const result = await finish(job);
    expect(await rowOf(job)).toMatchObject({
      status: 'sent',
      attempts: 1,
      task: 'send_welcome_email',
      queue: 'auth_emails',
      recipient: 'ok@example.com',
      message_id: result.message_id,
      smtp_response: result.smtp_response,
      correlation_id: 'c-1',
      last_error: null,
    });
    expect((await rowOf(job)).subject).toMatch(/welcome/i);
    expect((await rowOf(job)).sent_at).toBeInstanceOf(Date);
  });

  it('records a retried success as sent after two attempts', async () => {
    const start = smtp.transactions;
    smtp.reply = (n) => (n === start + 1 ? { code: 451, message: 'Try later' } : undefined);
    const job = await w.queue('auth_emails').add('send_welcome_email', { email: 'retried@example.com' });
    await finish(job);
    expect(await rowOf(job)).toMatchObject({ status: 'sent', attempts: 2 });
    expect(sentTo('retried@example.com')).toBe(1);
  });

  it('records a permanent failure as failed with its error', async () => {
    smtp.reply = () => ({ code: 550, message: 'No such mailbox' });
    const job = await w.queue('auth_emails').add('send_welcome_email', { email: 'refused@example.com' });
    await expect(finish(job)).rejects.toThrow(/550/);
    expect(await rowOf(job)).toMatchObject({ status: 'failed', attempts: 1, message_id: null });
    expect((await rowOf(job)).last_error).toMatch(/550/);
  });

  it('records an expiry as expired', async () => {
    const job = await w
      .queue('auth_emails')
      .add(
        'send_otp_verification_email',
        { email: 'stale@example.com', otp: '1234' },
        { timestamp: Date.now() - 11 * 60_000 },
      );
    await expect(finish(job)).rejects.toThrow(/expired/);
    expect(await rowOf(job)).toMatchObject({
      status: 'expired',
      recipient: 'stale@example.com',
      attempts: 0,
    });
  });
});

describe('no email twice', () => {
  it('completes a job whose row is already sent without an SMTP transaction', async () => {
    await db.pool.query(
      `INSERT INTO ${db.schema}.email_deliveries
         (idempotency_key, job_id, queue, task, recipient, status, attempts, message_id, smtp_response, sent_at)
       VALUES ('send_welcome_email~already', 'old', 'auth_emails', 'send_welcome_email', 'done@example.com',
               'sent', 1, '<old@events.example.com>', '250 earlier', now())`,
    );
    const before = smtp.transactions;
    const id = await client.enqueue(
      'send_welcome_email',
      { email: 'done@example.com' },
      { idempotencyKey: 'already' },
    );
    const job = (await w.queue('auth_emails').getJob(id))!;
    const result = await finish(job);
    expect(result).toMatchObject({
      duplicate: true,
      message_id: '<old@events.example.com>',
      smtp_response: '250 earlier',
    });
    expect(smtp.transactions).toBe(before);
    expect(w.logs.find((l) => l.jobId === id && l.outcome)).toMatchObject({ outcome: 'skipped' });
  });

  it('sends nothing for a key enqueued again after the first job was removed from Redis', async () => {
    const enqueueOnce = async () =>
      (await w
        .queue('auth_emails')
        .getJob(
          await client.enqueue(
            'send_welcome_email',
            { email: 'once@example.com' },
            { idempotencyKey: 'order-77' },
          ),
        ))!;
    const first = await enqueueOnce();
    await finish(first);
    await first.remove();
    const again = await enqueueOnce();
    expect(await finish(again)).toMatchObject({ duplicate: true });
    expect(sentTo('once@example.com')).toBe(1);
  });

  it('lets exactly one of many concurrent claims on one key win', async () => {
    const ledger = createLedger(db.pool, db.schema);
    const job = {
      key: 'send_welcome_email~race-direct',
      jobId: 'r',
      queue: 'auth_emails',
      task: 'send_welcome_email',
      correlationId: undefined,
      leaseMs: 60_000,
      uncertain: 'resend' as const,
    };
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, n) => ledger.claim(job, 'race@example.com', `token-${n}`)),
    );
    const won = outcomes.filter((o) => o.status === 'claimed');
    expect(won).toHaveLength(1);
    const holder = outcomes.findIndex((o) => o.status === 'claimed');
    expect(outcomes.filter((o) => o.status === 'sending')).toEqual(
      Array(9).fill(
        expect.objectContaining({ owner: { jobId: 'r', queue: 'auth_emails', token: `token-${holder}` } }),
      ),
    );
  });

  it('claims no address on the suppression list, in the same statement as the claims beside it', async () => {
    const ledger = createLedger(db.pool, db.schema);
    await db.pool.query(
      `INSERT INTO ${db.schema}.email_suppressions (address, reason, source, expires_at)
       VALUES ('listed@example.com', 'complaint', 'test', NULL),
              ('lapsed@example.com', 'bounce', 'test', now() - interval '1 day')`,
    );
    const job = (name: string) => ({
      key: `send_welcome_email~suppressed-${name}`,
      jobId: name,
      queue: 'auth_emails',
      task: 'send_welcome_email',
      correlationId: undefined,
      leaseMs: 60_000,
      uncertain: 'resend' as const,
    });
    // Claimed together, so the three go in one batch: only the listed one is refused.
    const [listed, lapsed, free] = await Promise.all([
      ledger.claim(job('listed'), 'Listed@Example.com', 't-1'),
      ledger.claim(job('lapsed'), 'lapsed@example.com', 't-2'),
      ledger.claim(job('free'), 'free@example.com', 't-3'),
    ]);
    expect(listed).toEqual({ status: 'suppressed', reason: 'complaint', expiresAt: undefined });
    expect(lapsed).toEqual({ status: 'claimed' });
    expect(free).toEqual({ status: 'claimed' });
    expect(await rows('idempotency_key = $1', [job('listed').key])).toEqual([]);
    expect((await rows('idempotency_key = $1', [job('free').key]))[0]).toMatchObject({ status: 'sending' });
  });

  it('still sends once and records it when the database connection is terminated right after the 250', async () => {
    const start = smtp.transactions;
    smtp.beforeReply = async (n) => {
      if (n !== start + 1) return;
      await db.pool.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [applicationName],
      );
    };
    try {
      const job = await w.queue('auth_emails').add('send_welcome_email', { email: 'terminated@example.com' });
      await finish(job);
      expect(sentTo('terminated@example.com')).toBe(1);
      expect(await rowOf(job)).toMatchObject({ status: 'sent', attempts: 1 });
    } finally {
      smtp.beforeReply = undefined;
    }
  });

  it('retries while PostgreSQL is unreachable and delivers once it is back', async () => {
    proxy.cut();
    const job = await w.queue('booking_emails').add('send_booking_confirmation', {
      user_id: 1,
      booking_data: { event_name: 'Outage' },
    });
    try {
      await waitFor(async () => (await w.queue('booking_emails').getJob(job.id!))!.attemptsStarted >= 2, {
        what: 'a retry while the database is down',
      });
      expect(sentTo('member@example.com')).toBe(0);
    } finally {
      await proxy.restore();
    }
    await finish(job);
    expect(sentTo('member@example.com')).toBe(1);
    expect(await rowOf(job)).toMatchObject({ status: 'sent', recipient: 'member@example.com' });
  });
});

describe('a delivery stuck in sending', () => {
  const stuck = (key: string, task: string, recipient: string) =>
    db.pool.query(
      `INSERT INTO ${db.schema}.email_deliveries (idempotency_key, job_id, queue, task, recipient, status, attempts, lease_until)
       VALUES ($1, 'crashed', 'q', $2, $3, 'sending', 1, now() - interval '1 minute')`,
      [key, task, recipient],
    );

  it('is sent again for a task whose policy is resend', async () => {
    await stuck('send_welcome_email~crashed-welcome', 'send_welcome_email', 'again@example.com');
    const id = await client.enqueue(
      'send_welcome_email',
      { email: 'again@example.com' },
      { idempotencyKey: 'crashed-welcome' },
    );
    await finish((await w.queue('auth_emails').getJob(id))!);
    expect(sentTo('again@example.com')).toBe(1);
    expect((await rows('idempotency_key = $1', ['send_welcome_email~crashed-welcome']))[0]).toMatchObject({
      status: 'sent',
      attempts: 2,
    });
  });

  it('is marked unknown, not sent, and fails for a task whose policy is mark_unknown', async () => {
    await stuck(
      'send_booking_confirmation~crashed-booking',
      'send_booking_confirmation',
      'member@example.com',
    );
    const before = sentTo('member@example.com');
    const id = await client.enqueue(
      'send_booking_confirmation',
      { user_id: 1, booking_data: { event_name: 'Uncertain' } },
      { idempotencyKey: 'crashed-booking' },
    );
    await expect(finish((await w.queue('booking_emails').getJob(id))!)).rejects.toThrow(
      /delivery state unknown/,
    );
    expect(sentTo('member@example.com')).toBe(before);
    expect(
      (await rows('idempotency_key = $1', ['send_booking_confirmation~crashed-booking']))[0],
    ).toMatchObject({
      status: 'unknown',
    });
  });
});

describe('start-workers deliveries', () => {
  const cliEnv = () => ({
    DATABASE_URL: TEST_DATABASE_URL,
    LEDGER_SCHEMA: db.schema,
    REDIS_URL: TEST_REDIS_URL,
  });

  it('lists rows by status and task as a table', async () => {
    const list = spawnCli(
      ['deliveries', '--status', 'sent', '--task', 'send_welcome_email', '--since', '1h'],
      cliEnv(),
    );
    expect(await list.exited, list.stderr()).toBe(0);
    const lines = list.stdout().trim().split('\n');
    expect(lines[0]).toMatch(/^created\s+status\s+task\s+recipient\s+attempts\s+job\s+key\s+detail$/);
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines.slice(1)) expect(line).toMatch(/ sent {2,}send_welcome_email /);
  });

  it('finds rows by recipient through an index, whatever the case of the address', async () => {
    await db.pool.query(
      `INSERT INTO ${db.schema}.email_deliveries (idempotency_key, job_id, queue, task, recipient, status)
       VALUES ('recipient-case', 'j', 'q', 'send_welcome_email', 'Case.Member@Example.com', 'sent')`,
    );
    const found = await createLedger(db.pool, db.schema).list({ recipient: 'case.member@example.COM' });
    expect(found.map((row) => row.idempotency_key)).toEqual(['recipient-case']);
    // The plan of the list's query with sequential scans priced out: the index serves the lower() comparison.
    const client = await db.pool.connect();
    try {
      await client.query('SET enable_seqscan = off');
      const plan = await client.query(
        `EXPLAIN SELECT id FROM ${db.schema}.email_deliveries
          WHERE lower(recipient) = lower($1) ORDER BY created_at DESC LIMIT 50`,
        ['member@example.com'],
      );
      expect(plan.rows.map((row) => row['QUERY PLAN']).join('\n')).toContain('email_deliveries_recipient');
    } finally {
      await client.query('RESET enable_seqscan');
      client.release();
    }
  });

  it('refuses an unknown status, naming the ones it knows', async () => {
    const list = spawnCli(['deliveries', '--status', 'lost'], cliEnv());
    expect(await list.exited).toBe(1);
    expect(list.stderr()).toMatch(/--status: expected one of sending, sent, failed/);
  });

  /** Ledger rows with these keys and statuses, created `age` ago. */
  const oldRows = (age: string, rowsByKey: Record<string, string>) =>
    db.pool.query(
      `INSERT INTO ${db.schema}.email_deliveries (idempotency_key, job_id, queue, task, status, created_at)
       SELECT k, 'j', 'q', 'send_welcome_email', s, now() - $3::interval
         FROM unnest($1::text[], $2::text[]) AS x(k, s)`,
      [Object.keys(rowsByKey), Object.values(rowsByKey), age],
    );
  const keysLeft = async (keys: string[]) =>
    (await rows('idempotency_key = ANY($1) ORDER BY idempotency_key', [keys])).map((r) => r.idempotency_key);

  it('purges rows older than --older-than, keeps the rest and prints what it deleted by status', async () => {
    await oldRows('100 days', { 'purge-a': 'sent', 'purge-b': 'sent', 'purge-c': 'failed' });
    await oldRows('80 days', { 'purge-young': 'sent' });
    const before = (await rows('true', [])).length;
    const purge = spawnCli(['deliveries', 'purge', '--older-than', '90d'], cliEnv());
    expect(await purge.exited, purge.stderr()).toBe(0);
    expect(purge.stdout()).toMatch(
      /^deleted 3 ledger rows older than 90d \(created before \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\): 2 sent, 1 failed\n$/,
    );
    expect(await keysLeft(['purge-a', 'purge-b', 'purge-c', 'purge-young'])).toEqual(['purge-young']);
    expect((await rows('true', [])).length).toBe(before - 3);
    await db.pool.query(`DELETE FROM ${db.schema}.email_deliveries WHERE idempotency_key = 'purge-young'`);
  });

  it('refuses an --older-than without a unit and deletes nothing', async () => {
    // A bare 90 once meant 90 seconds: it emptied the ledger, and keys it held were then sent twice.
    await oldRows('10 minutes', { 'bare-number': 'sent' });
    const purge = spawnCli(['deliveries', 'purge', '--older-than', '90'], cliEnv());
    expect(await purge.exited).toBe(1);
    expect(purge.stderr()).toMatch(/--older-than: "90" has no unit; write 90d for days/);
    expect(await keysLeft(['bare-number'])).toEqual(['bare-number']);
  });

  it('refuses an --older-than under one day without --force, and deletes with it', async () => {
    await oldRows('2 hours', { 'under-a-day': 'sent' });
    const refused = spawnCli(['deliveries', 'purge', '--older-than', '1h'], cliEnv());
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toMatch(/--older-than: 1h is under one day.*add --force/);
    expect(await keysLeft(['under-a-day'])).toEqual(['under-a-day']);

    const forced = spawnCli(['deliveries', 'purge', '--older-than', '1h', '--force'], cliEnv());
    expect(await forced.exited, forced.stderr()).toBe(0);
    expect(forced.stdout()).toMatch(/^deleted 1 ledger rows older than 1h .*: 1 sent\n$/);
    expect(await keysLeft(['under-a-day'])).toEqual([]);
  });

  it('prints what --dry-run would delete, by status, and deletes nothing', async () => {
    await oldRows('200 days', { 'dry-a': 'failed', 'dry-b': 'unknown', 'dry-c': 'failed' });
    try {
      const dry = spawnCli(['deliveries', 'purge', '--older-than', '150d', '--dry-run'], cliEnv());
      expect(await dry.exited, dry.stderr()).toBe(0);
      expect(dry.stdout()).toMatch(/^would delete 3 ledger rows older than 150d .*: 2 failed, 1 unknown\n$/);
      expect(await keysLeft(['dry-a', 'dry-b', 'dry-c'])).toEqual(['dry-a', 'dry-b', 'dry-c']);
    } finally {
      await db.pool.query(`DELETE FROM ${db.schema}.email_deliveries WHERE idempotency_key LIKE 'dry-%'`);
    }
  });
});

describe('two workers racing on one key', () => {
  it('send one message; the loser waits out the lease and completes as a duplicate', async () => {
    const a = await startTestWorkers(
      'race',
      {
        ...smtpEnv(smtp),
        ...databaseEnv(db),
        // A short lease (JOB_TIMEOUT_MS + 5 s), so that the losing job's retry comes within the test.
        JOB_TIMEOUT_MS: '1000',
      },
      { queues: ['auth_emails'] },
    );
    // A second, separate set of workers on the same queues' prefix, as another process would be.
    const b = await startWorkers(a.config, createLogger({ level: 'silent' }), { queues: ['system'] });
    smtp.delayMs = 300;
    try {
      // One custom job id is one key; a known task on another queue still runs, so each set of workers takes
      // one of the two jobs at the same moment.
      const jobs = await Promise.all([
        a
          .queue('auth_emails')
          .add('send_welcome_email', { email: 'raced@example.com' }, { jobId: 'race-e2e' }),
        a.queue('system').add('send_welcome_email', { email: 'raced@example.com' }, { jobId: 'race-e2e' }),
      ]);
      const results = await Promise.all([
        jobs[0].waitUntilFinished(await a.events('auth_emails'), 20_000),
        jobs[1].waitUntilFinished(await a.events('system'), 20_000),
      ]);
      expect(sentTo('raced@example.com')).toBe(1);
      expect(results.filter((r) => r.duplicate === true)).toHaveLength(1);
      expect(results[0].message_id).toBe(results[1].message_id);
      // They did race: the loser met the winner's claim and came back after its lease.
      const attempts = await Promise.all([
        a.queue('auth_emails').getJob('race-e2e'),
        a.queue('system').getJob('race-e2e'),
      ]).then((found) => found.map((job) => job!.attemptsStarted).sort());
      expect(attempts).toEqual([1, 2]);
    } finally {
      smtp.delayMs = 0;
      await b.close();
      await a.stop();
    }
  });
});

describe('an attempt that ends without the server’s reply', () => {
  const slowWorkers = (label: string) =>
    startTestWorkers(
      label,
      {
        ...smtpEnv(smtp),
        ...databaseEnv(db),
        // 2 s for the attempt, 1 s for each SMTP step, and so a lease of 7 s.
        JOB_TIMEOUT_MS: '2000',
      },
      { queues: ['auth_emails', 'booking_emails'] },
    );

  it('marks a booking unknown, not failed, when the server went quiet after the message: no second copy', async () => {
    const slow = await slowWorkers('went-quiet');
    const first = smtp.transactions + 1;
    // The first message is accepted only after the client stopped waiting for the reply.
    smtp.beforeReply = async (n) => {
      if (n === first) await new Promise((resolve) => setTimeout(resolve, 1_600));
    };
    try {
      const job = await slow.queue('booking_emails').add('send_booking_confirmation', {
        user_id: 1,
        email: 'quiet@example.com',
        booking_data: { event_name: 'Quiet' },
      });
      await expect(job.waitUntilFinished(await slow.events('booking_emails'), 20_000)).rejects.toThrow(
        /delivery state unknown/,
      );
      expect(smtp.transactions - first).toBe(0);
      expect(await rowOf(job, slow)).toMatchObject({ status: 'unknown' });
    } finally {
      smtp.beforeReply = undefined;
      await slow.stop();
    }
  });
});
