/**
 * An idempotency key may hold the recipient's address (`booking:ada@example.com`), and a job id is made of it.
 * Failed reasons, stack traces, job logs and log lines name such an email by `key #<hash>, job <id>` and mask the
 * address in whatever encoding the key carries it: percent-encoded once or more, as an HTML entity, with `+` for
 * space, in any case.
 */
import { createHash } from 'node:crypto';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmailClient, type EmailClient } from '@email-workers/client';
import { decodedForms } from '../helpers/decoded-forms.js';
import { failedJob } from '../helpers/jobs.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

let smtp: SmtpSink;
let db: TestSchema;
let w: TestWorkers;
let client: EmailClient;

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('privacy');
  await db.addUser({ id: 1, email: 'ada@example.com' });
  w = await startTestWorkers(
    'privacy',
    { ...smtpEnv(smtp), ...databaseEnv(db) },
    {
      queues: ['auth_emails', 'booking_emails'],
    },
  );
  client = createEmailClient({ redisUrl: TEST_REDIS_URL, prefix: w.prefix });
});

afterAll(async () => {
  await client?.close();
  await w?.stop();
  await smtp?.close();
  await db?.drop();
});

const ADDRESSES = /\b(ada|grace)@example\.com\b/i;
const keyRefOf = (key: string) => `key #${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;

/** A ledger row for `key` in `status`; `leaseSeconds` from now for a row another attempt is sending. */
const ledgerRow = (key: string, task: string, status: string, leaseSeconds?: number) =>
  db.pool.query(
    `INSERT INTO ${db.schema}.email_deliveries (idempotency_key, job_id, queue, task, status, attempts, lease_until)
     VALUES ($1, 'earlier', 'q', $2, $3, 1, now() + make_interval(secs => $4))`,
    [key, task, status, leaseSeconds ?? null],
  );

/** Everything a monitor or a log reader sees of a failed job: reason, stack traces, job log and log lines. */
async function everythingShownOf(job: Job): Promise<string[]> {
  const { logs } = await w.queue(job.queueName as never).getJobLogs(job.id!);
  const lines = w.logs.filter((line) => line.jobId !== undefined).map((line) => JSON.stringify(line));
  return [job.failedReason, ...(job.stacktrace ?? []), ...logs, ...lines];
}

function expectNoAddressIn(texts: string[]): void {
  for (const text of texts) {
    for (const form of decodedForms(text)) expect(form, `shown: ${text}`).not.toMatch(ADDRESSES);
  }
}

describe('an email whose idempotency key holds an address', () => {
  it('fails as blocked with a reason that names its key by hash and job id, nowhere the address', async () => {
    const key = 'send_booking_confirmation~booking%3Aada%40example.com';
    await ledgerRow(key, 'send_booking_confirmation', 'bounced');
    const id = await client.enqueue(
      'send_booking_confirmation',
      { user_id: 1, booking_data: { event_name: 'Private' } },
      { idempotencyKey: 'booking:ada@example.com' },
    );
    const job = await failedJob(w, (await w.queue('booking_emails').getJob(id))!);
    expect(job.failedReason).toBe(
      `not sent: the ledger says bounced for this email (${keyRefOf(key)}, ` +
        'job send_booking_confirmation~booking%3Aa***%40example.com)',
    );
    expectNoAddressIn(await everythingShownOf(job));
    // Logged by the dead-letter alerter, from the queue's events.
    await waitFor(() => w.logs.some((line) => line.msg === 'dead letter: job failed for good'), {
      what: 'the dead letter line',
    });
  });

  it('waits for another attempt, then fails as uncertain, and neither the retry nor the failure shows the address', async () => {
    // A producer's own BullMQ job id, double-encoded and in mixed case: the key is the job id.
    const jobId = 'booking-Ada%2540Example.COM';
    const key = `send_booking_confirmation~${jobId}`;
    await ledgerRow(key, 'send_booking_confirmation', 'sending', 3);
    const added = await w
      .queue('booking_emails')
      .add('send_booking_confirmation', { user_id: 1, booking_data: { event_name: 'Private' } }, { jobId });
    const job = await failedJob(w, added, 20_000);
    expect(job.failedReason).toMatch(
      /^delivery state unknown: .*\(key #[0-9a-f]{8}, job b\*\*\*%2540Example\.COM\)/,
    );
    expect(job.failedReason).toContain(keyRefOf(key));
    const { logs } = await w.queue('booking_emails').getJobLogs(jobId);
    expect(logs[0]).toMatch(
      /^run 1: another attempt is sending this email \(key #[0-9a-f]{8}, job .*\) \(not charged; retry in \d+ ms\)$/,
    );
    expectNoAddressIn(await everythingShownOf(job));
  });

  it.each([
    ['an HTML entity', 'signup-grace&#64;example.com'],
    ['a named entity in upper case', 'signup-grace&COMMAT;Example.com'],
    ['a form-encoded key', 'signup%3A+Grace%40example.com'],
    ['a key encoded three times', 'signup%25253Agrace%252540example.com'],
  ])('masks %s in the job id of a bounced email', async (_what, jobId) => {
    await ledgerRow(`send_welcome_email~${jobId}`, 'send_welcome_email', 'bounced');
    const added = await w
      .queue('auth_emails')
      .add('send_welcome_email', { email: 'grace@example.com' }, { jobId });
    const job = await failedJob(w, added);
    expect(job.failedReason).toMatch(
      /^not sent: the ledger says bounced for this email \(key #[0-9a-f]{8}, job /,
    );
    expectNoAddressIn(await everythingShownOf(job));
  });
});
