/**
 * Bounces and the suppression list: a 550 at RCPT TO marks the delivery bounced and suppresses the address for
 * SUPPRESSION_DAYS; a later email to it fails at once, `suppressed`, without an SMTP transaction. A refusal of
 * our side (535 at AUTH) suppresses nobody. `start-workers suppression` lists, adds and removes.
 */
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressOfToken } from '../../src/mail/list-unsubscribe.js';
import { spawnCli } from '../helpers/cli.js';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../helpers/postgres.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

const UNSUBSCRIBE_SECRET = 'unsubscribe-secret-0123456789';
let smtp: SmtpSink;
let db: TestSchema;
let w: TestWorkers;

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('suppression');
  w = await startTestWorkers(
    'suppression',
    {
      ...smtpEnv(smtp),
      ...databaseEnv(db),
      SUBSCRIBED_TASKS: 'send_welcome_email',
      UNSUBSCRIBE_SECRET,
      PUBLIC_BASE_URL: 'https://mail.example.com/monitor',
    },
    { queues: ['auth_emails'] },
  );
});

afterAll(async () => {
  await w?.stop();
  await smtp?.close();
  await db?.drop();
});

async function failed(job: Job): Promise<Job> {
  await expect(job.waitUntilFinished(await w.events('auth_emails'), 15_000)).rejects.toThrow();
  return (await w.queue('auth_emails').getJob(job.id!))!;
}

const ledgerStatus = async (address: string) =>
  (
    await db.pool.query<{ status: string }>(
      `SELECT status FROM ${db.schema}.email_deliveries WHERE recipient = $1 ORDER BY id`,
      [address],
    )
  ).rows.map((row) => row.status);

const suppressionOf = async (address: string) =>
  (
    await db.pool.query<{ reason: string; source: string; days: number }>(
      `SELECT reason, source, round(extract(epoch FROM expires_at - created_at) / 86400)::int AS days
         FROM ${db.schema}.email_suppressions WHERE address = $1`,
      [address],
    )
  ).rows[0];

const cliEnv = () => ({
  DATABASE_URL: TEST_DATABASE_URL,
  LEDGER_SCHEMA: db.schema,
  EMBEDDED_DATABASE: 'false',
});

describe('bounces', () => {
  it('suppresses an address refused with 550 at RCPT TO, and marks the delivery bounced', async () => {
    smtp.rcptReply = (address) =>
      address === 'nobody@example.com' ? { code: 550, message: '5.1.1 No such user here' } : undefined;
    try {
      const job = await w.queue('auth_emails').add('send_welcome_email', { email: 'nobody@example.com' });
      const dead = await failed(job);
      expect(dead.attemptsStarted).toBe(1);
      expect(dead.failedReason).toMatch(/^SMTP 550 at RCPT TO/);
      expect(await ledgerStatus('nobody@example.com')).toEqual(['bounced']);
      expect(await suppressionOf('nobody@example.com')).toEqual({
        reason: 'bounce',
        source: 'smtp',
        days: 30,
      });
    } finally {
      smtp.rcptReply = () => undefined;
    }
  });

  it('fails a later email to a suppressed address at once, without an SMTP transaction', async () => {
    await waitFor(() => suppressionOf('nobody@example.com'), { what: 'the bounce suppressed' });
    const seen = smtp.recipients.length;
    const job = await w.queue('auth_emails').add('send_otp_verification_email', {
      email: 'Nobody@Example.com',
      otp: '123456',
    });
    const dead = await failed(job);
    expect(dead.failedReason).toMatch(/^suppressed: the address is on the suppression list \(bounce until /);
    expect(dead.attemptsStarted).toBe(1);
    expect(smtp.recipients.length).toBe(seen);
    expect(await ledgerStatus('Nobody@Example.com')).toEqual(['suppressed']);
  });

  it('sends a suppressed job that is retried once the address is off the list', async () => {
    await db.pool.query(
      `INSERT INTO ${db.schema}.email_suppressions (address, reason, source) VALUES ('listed@example.com', 'manual', 'test')`,
    );
    const refused = await w.queue('auth_emails').add('send_welcome_email', { email: 'listed@example.com' });
    const dead = await failed(refused);
    expect(dead.failedReason).toMatch(/^suppressed: /);
    await db.pool.query(`DELETE FROM ${db.schema}.email_suppressions WHERE address = 'listed@example.com'`);
    await dead.retry();
    expect(await refused.waitUntilFinished(await w.events('auth_emails'), 15_000)).toMatchObject({
      success: true,
    });
  });

  it('suppresses nobody when the server refuses our login (535)', async () => {
    const refusing = await startSmtpSink({ refuseAuth: true });
    const other = await startTestWorkers(
      'suppression-535',
      { ...smtpEnv(refusing), ...databaseEnv(db), SMTP_USERNAME: 'us', SMTP_PASSWORD: 'wrong-password' },
      { queues: ['auth_emails'] },
    );
    try {
      const job = await other
        .queue('auth_emails')
        .add('send_welcome_email', { email: 'innocent@example.com' });
      await waitFor(
        async () =>
          (await other.queue('auth_emails').getJobLogs(job.id!)).logs.some((line) => /535/.test(line)),
        { timeoutMs: 20_000, what: 'a run refused with 535' },
      );
      expect(await suppressionOf('innocent@example.com')).toBeUndefined();
      expect(await (await other.queue('auth_emails').getJob(job.id!))!.getState()).not.toBe('failed');
    } finally {
      await other.stop();
      await refusing.close();
    }
  });
});

describe('start-workers suppression', () => {
  it('adds, lists and removes an address', async () => {
    const add = spawnCli(['suppression', 'add', 'Manual@Example.com', '--days', '7'], cliEnv());
    expect(await add.exited).toBe(0);
    expect(add.stdout()).toMatch(/^manual@example\.com: suppressed \(manual until \d{4}-/);
    expect(await suppressionOf('manual@example.com')).toMatchObject({ reason: 'manual', days: 7 });

    const list = spawnCli(['suppression', 'list'], cliEnv());
    expect(await list.exited).toBe(0);
    expect(list.stdout()).toMatch(/^address\s+reason\s+since\s+until\s+source\s+detail$/m);
    expect(list.stdout()).toMatch(/^manual@example\.com\s+manual\s/m);

    const remove = spawnCli(['suppression', 'remove', 'manual@example.com'], cliEnv());
    expect(await remove.exited).toBe(0);
    expect(remove.stdout()).toBe('manual@example.com: removed\n');
    expect(await suppressionOf('manual@example.com')).toBeUndefined();
  });

  it('refuses something that is not an address', async () => {
    const add = spawnCli(['suppression', 'add', 'not-an-address'], cliEnv());
    expect(await add.exited).toBe(1);
    expect(add.stderr()).toMatch(/expected an email address/);
  });
});

describe('List-Unsubscribe', () => {
  it('puts RFC 8058 one-click headers on a subscribed task, with a token naming the address', async () => {
    const job = await w.queue('auth_emails').add('send_welcome_email', { email: 'reader@example.com' });
    await job.waitUntilFinished(await w.events('auth_emails'), 15_000);
    const mail = smtp.messages.find(
      (m) => m.to && 'value' in m.to && m.to.value[0]?.address === 'reader@example.com',
    )!;
    const header = mail.headerLines.find((h) => h.key === 'list-unsubscribe')!.line.replace(/^[^:]+:\s*/, '');
    const url = new URL(/^<(.+)>$/.exec(header)![1]!);
    expect(`${url.origin}${url.pathname}`).toBe('https://mail.example.com/monitor/unsubscribe');
    expect(addressOfToken(UNSUBSCRIBE_SECRET, url.searchParams.get('token')!)).toBe('reader@example.com');
    expect(mail.headerLines.find((h) => h.key === 'list-unsubscribe-post')?.line).toBe(
      'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
    );
  });

  it('leaves them off the tasks not listed in SUBSCRIBED_TASKS', async () => {
    const job = await w
      .queue('auth_emails')
      .add('send_otp_verification_email', { email: 'otp-reader@example.com', otp: '654321' });
    await job.waitUntilFinished(await w.events('auth_emails'), 15_000);
    const mail = smtp.messages.find(
      (m) => m.to && 'value' in m.to && m.to.value[0]?.address === 'otp-reader@example.com',
    )!;
    expect(mail.headers.has('list-unsubscribe')).toBe(false);
  });
});
