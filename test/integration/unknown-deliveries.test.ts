/**
 * An `unknown` delivery can be resolved by a person — `deliveries resolve KEY --sent` (found in the mail server's
 * log) or `--resend` (not found), recorded with who and when — after which a replay completes as a duplicate or
 * sends. And a claim whose reply was lost (the statement committed after the client gave up on it) is not taken
 * for a send that may have happened: the job's next attempt sends it instead of marking it `unknown`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import { spawnCli } from '../helpers/cli.js';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../helpers/postgres.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

let smtp: SmtpSink;
let db: TestSchema;
let w: TestWorkers;

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('unknown');
  w = await startTestWorkers(
    'unknown',
    { ...smtpEnv(smtp), ...databaseEnv(db), DATABASE_CONNECT_TIMEOUT_MS: '300' },
    { queues: ['booking_emails'] },
  );
});

afterAll(async () => {
  await w?.stop();
  await smtp?.close();
  await db?.drop();
});

const row = async (key: string) =>
  (await db.pool.query(`SELECT * FROM ${db.schema}.email_deliveries WHERE idempotency_key = $1`, [key]))
    .rows[0];
const copiesFor = (event: string) => smtp.messages.filter((m) => m.subject?.includes(event)).length;
const booking = (event: string) => ({
  user_id: 1,
  email: 'ops@example.com',
  booking_data: { event_name: event },
});

/** A booking job that ends `unknown`: an earlier attempt (long dead) left its claim in `sending`. */
async function unknownBooking(id: string, event: string): Promise<Job> {
  await db.pool.query(
    `INSERT INTO ${db.schema}.email_deliveries
       (idempotency_key, job_id, queue, task, status, attempts, attempt_token, lease_until)
     VALUES ($1, 'gone', 'booking_emails', 'send_booking_confirmation', 'sending', 1, 'dead-run', now() - interval '1 s')`,
    [`send_booking_confirmation~${id}`],
  );
  const job = await w.queue('booking_emails').add('send_booking_confirmation', booking(event), { jobId: id });
  await expect(job.waitUntilFinished(await w.events('booking_emails'), 15_000)).rejects.toThrow(
    /delivery state unknown/,
  );
  expect(await row(`send_booking_confirmation~${id}`)).toMatchObject({ status: 'unknown' });
  return job;
}

const cliEnv = () => ({
  REDIS_URL: TEST_REDIS_URL,
  DATABASE_URL: TEST_DATABASE_URL,
  LEDGER_SCHEMA: db.schema,
});

async function replay(job: Job) {
  const reloaded = (await w.queue('booking_emails').getJob(job.id!))!;
  await reloaded.retry('failed');
  return reloaded.waitUntilFinished(await w.events('booking_emails'), 15_000);
}

describe('deliveries resolve', () => {
  it('--resend releases an unknown delivery, recorded with who and when; a replay sends it once', async () => {
    const job = await unknownBooking('resolve-resend', 'Not in the log');
    const cli = spawnCli(
      ['deliveries', 'resolve', 'send_booking_confirmation~resolve-resend', '--resend', '--by', 'ops-ada'],
      cliEnv(),
    );
    expect(await cli.exited, cli.stderr()).toBe(0);
    expect(cli.stdout()).toMatch(/released by ops-ada; replaying its job sends it/);
    expect(await row('send_booking_confirmation~resolve-resend')).toMatchObject({
      status: 'failed',
      resolved_by: 'ops-ada',
      resolved_at: expect.any(Date),
    });
    expect(await replay(job)).toMatchObject({ success: true });
    expect(copiesFor('Not in the log')).toBe(1);
    expect(await row('send_booking_confirmation~resolve-resend')).toMatchObject({
      status: 'sent',
      resolved_by: 'ops-ada',
    });
  });

  it('--sent records it as delivered; a replay completes as a duplicate and sends nothing', async () => {
    const job = await unknownBooking('resolve-sent', 'Found in the log');
    const cli = spawnCli(
      ['deliveries', 'resolve', 'send_booking_confirmation~resolve-sent', '--sent', '--by', 'ops-grace'],
      cliEnv(),
    );
    expect(await cli.exited, cli.stderr()).toBe(0);
    expect(await row('send_booking_confirmation~resolve-sent')).toMatchObject({
      status: 'sent',
      resolved_by: 'ops-grace',
    });
    expect(await replay(job)).toMatchObject({ duplicate: true });
    expect(copiesFor('Found in the log')).toBe(0);
  });

  it('refuses a key that is not unknown, and a verdict that is not exactly one of --sent and --resend', async () => {
    await db.pool.query(
      `INSERT INTO ${db.schema}.email_deliveries (idempotency_key, job_id, queue, task, status)
       VALUES ('already-sent', 'j', 'booking_emails', 'send_booking_confirmation', 'sent')`,
    );
    const notUnknown = spawnCli(['deliveries', 'resolve', 'already-sent', '--sent'], cliEnv());
    expect(await notUnknown.exited).toBe(1);
    expect(notUnknown.stderr()).toMatch(/already-sent is sent, not unknown/);
    const both = spawnCli(['deliveries', 'resolve', 'already-sent', '--sent', '--resend'], cliEnv());
    expect(await both.exited).toBe(1);
    expect(both.stderr()).toMatch(/--sent .* or --resend/);
    const missing = spawnCli(['deliveries', 'resolve', 'no-such-key', '--resend'], cliEnv());
    expect(await missing.exited).toBe(1);
    expect(missing.stderr()).toMatch(/no delivery with key no-such-key/);
  });
});

describe('a claim whose reply was lost', () => {
  it('is not turned into unknown by the next attempt of its own job: the booking is sent once', async () => {
    const key = 'send_booking_confirmation~lost-reply';
    await db.pool.query(
      `INSERT INTO ${db.schema}.email_deliveries (idempotency_key, job_id, queue, task, status, attempts)
       VALUES ($1, 'lost-reply', 'booking_emails', 'send_booking_confirmation', 'failed', 1)`,
      [key],
    );
    // Hold the row: the claim's statement waits on it past the client's query timeout, then commits.
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(
        `SELECT 1 FROM ${db.schema}.email_deliveries WHERE idempotency_key = $1 FOR UPDATE`,
        [key],
      );
      const job = await w.queue('booking_emails').add('send_booking_confirmation', booking('Lost reply'), {
        jobId: 'lost-reply',
      });
      await waitFor(async () => (await w.queue('booking_emails').getJobLogs(job.id!)).logs.length > 0, {
        what: 'the claim given up',
      });
      await holder.query('COMMIT');
      expect(await job.waitUntilFinished(await w.events('booking_emails'), 15_000)).toMatchObject({
        success: true,
      });
      expect(copiesFor('Lost reply')).toBe(1);
      expect(await row(key)).toMatchObject({ status: 'sent' });
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
  });
});
