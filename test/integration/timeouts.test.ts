/**
 * An attempt that gives up at JOB_TIMEOUT_MS can no longer reach the SMTP server: a message still waiting for a
 * pooled connection is withdrawn, one being transmitted has its connection closed, and the ledger's writes after
 * a claim apply only for the attempt that holds it. Issue 8, defect 1: with one pooled connection and a server
 * that takes 600 ms per message, 24 emails made 28 transactions and four delivered bookings were dead-lettered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedger } from '../../src/db/ledger/index.js';
import { messageIdFor } from '../../src/mail/transport.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

let smtp: SmtpSink;
let db: TestSchema;
let w: TestWorkers;

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('timeouts');
  w = await startTestWorkers(
    'timeouts',
    {
      ...smtpEnv(smtp),
      ...databaseEnv(db),
      JOB_TIMEOUT_MS: '2000',
      SMTP_POOL_SIZE: '1',
      RETRY_DELAY: '100ms',
    },
    { queues: ['auth_emails', 'booking_emails'] },
  );
});

afterAll(async () => {
  await w?.stop();
  await smtp?.close();
  await db?.drop();
});

const FROM = 'bookings@events.example.com';

describe('a timed-out attempt', () => {
  it('sends nothing after it gave up: every transaction the server saw is one a run waited for', async () => {
    smtp.delayMs = 600;
    try {
      const welcomes = Array.from({ length: 20 }, (_, n) =>
        w
          .queue('auth_emails')
          .add('send_welcome_email', { email: `slow-${n}@example.com` }, { jobId: `slow-${n}` }),
      );
      const bookings = Array.from({ length: 4 }, (_, n) =>
        w
          .queue('booking_emails')
          .add(
            'send_booking_confirmation',
            { user_id: 1, email: `booked-${n}@example.com`, booking_data: { event_name: 'Slow' } },
            { jobId: `booked-${n}` },
          ),
      );
      const jobs = await Promise.all([...welcomes, ...bookings]);
      await waitFor(
        async () => {
          const states = await Promise.all(jobs.map((job) => job.getState()));
          return states.every((state) => state === 'completed' || state === 'failed');
        },
        { timeoutMs: 120_000, intervalMs: 250, what: 'every job finished' },
      );

      const runsOf = (outcome: string) => w.logs.filter((line) => line.outcome === outcome).length;
      const uncertain = w.logs.filter((line) =>
        /delivery uncertain: the attempt ended during DATA/.test(String(line.msg)),
      );
      // Withdrawn messages never reached the server: each transaction is a run that was sending when it ended.
      expect(smtp.transactions).toBe(runsOf('sent') + uncertain.length);
      expect(
        w.logs.some((line) => line.outcome === 'retry' && /job timed out/.test(JSON.stringify(line.err))),
      ).toBe(true);

      const copies = (key: string) =>
        smtp.messages.filter((m) => m.messageId === messageIdFor(key, FROM)).length;
      for (const job of jobs) {
        const key = `${job.name}~${job.id}`;
        const [row] = (
          await db.pool.query(`SELECT * FROM ${db.schema}.email_deliveries WHERE idempotency_key = $1`, [key])
        ).rows;
        if ((await job.getState()) === 'completed') {
          expect(row.status).toBe('sent');
          expect(copies(key)).toBeGreaterThanOrEqual(1);
        } else {
          // A booking whose run was cut during DATA is uncertain: it waits for a person, and went out at most once.
          expect(job.name).toBe('send_booking_confirmation');
          expect((await w.queue('booking_emails').getJob(job.id!))!.failedReason).toMatch(
            /delivery state unknown/,
          );
          expect(row.status).toBe('unknown');
          expect(copies(key)).toBeLessThanOrEqual(1);
        }
      }
      // A second copy only ever follows a run cut during DATA, and never for a booking.
      const extra = jobs.reduce((sum, job) => sum + Math.max(0, copies(`${job.name}~${job.id}`) - 1), 0);
      expect(extra).toBeLessThanOrEqual(uncertain.length);
      for (const job of jobs.filter((j) => j.name === 'send_booking_confirmation')) {
        expect(copies(`${job.name}~${job.id}`)).toBeLessThanOrEqual(1);
      }
    } finally {
      smtp.delayMs = 0;
    }
  }, 150_000);
});

describe("the ledger's writes after a claim", () => {
  const row = {
    key: 'send_welcome_email~stale-writer',
    jobId: 'stale-writer',
    queue: 'auth_emails',
    task: 'send_welcome_email',
    correlationId: undefined,
    leaseMs: 60_000,
    uncertain: 'resend' as const,
  };

  it('apply only for the attempt that holds the claim: a stale attempt cannot overwrite a newer one', async () => {
    const ledger = createLedger(db.pool, db.schema);
    expect(await ledger.claim(row, 'stale@example.com', 'run-1')).toEqual({ status: 'claimed' });
    expect(await ledger.takeOver(row, 'stale@example.com', 'run-2', 'run-1')).toBe(true);
    // The first run, long given up, reports late: none of it lands.
    expect(
      await ledger.markSent(row.key, 'run-1', { subject: 's', messageId: '<m1@x>', response: '250 late' }),
    ).toBe(false);
    await ledger.markFailed(row.key, 'run-1', 'late failure');
    await ledger.markUnknown(row.key, 'run-1');
    const read = async () =>
      (
        await db.pool.query(`SELECT * FROM ${db.schema}.email_deliveries WHERE idempotency_key = $1`, [
          row.key,
        ])
      ).rows[0];
    expect(await read()).toMatchObject({
      status: 'sending',
      attempt_token: 'run-2',
      attempts: 2,
      message_id: null,
    });
    // The holder's own record does.
    expect(
      await ledger.markSent(row.key, 'run-2', { subject: 's', messageId: '<m2@x>', response: '250 ok' }),
    ).toBe(true);
    expect(await read()).toMatchObject({ status: 'sent', message_id: '<m2@x>' });
  });

  it('lets only one of two attempts take over the same stale claim', async () => {
    const ledger = createLedger(db.pool, db.schema);
    const key = { ...row, key: 'send_welcome_email~two-takers' };
    await ledger.claim(key, 'two@example.com', 'dead');
    const taken = await Promise.all([
      ledger.takeOver(key, 'two@example.com', 'taker-a', 'dead'),
      ledger.takeOver(key, 'two@example.com', 'taker-b', 'dead'),
    ]);
    expect(taken.filter(Boolean)).toHaveLength(1);
  });
});
