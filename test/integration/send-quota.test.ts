/**
 * EMAIL_RATE_LIMIT is a total for the whole service: three worker processes together stay within 10 % of it over
 * 30 s. A throttling reply (454) slows every sender down through the shared factor in Redis, and fails nothing:
 * every email still arrives, once.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSendQuota } from '../../src/queues/send-quota.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { removePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { startWorkerProcesses } from '../helpers/worker-processes.js';
import { databaseEnv, smtpEnv, startTestWorkers, testEnv } from '../helpers/workers.js';

const RATE = 20;
const WINDOW_S = 30;
let smtp: SmtpSink;
let db: TestSchema;

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('quota');
});

afterAll(async () => {
  await smtp?.close();
  await db?.drop();
});

describe('the relay quota', () => {
  it(`holds ${RATE}/s within 10 % over ${WINDOW_S} s with three worker processes`, async () => {
    const prefix = uniquePrefix('quota');
    const env = testEnv(prefix, { ...smtpEnv(smtp), ...databaseEnv(db), EMAIL_RATE_LIMIT: String(RATE) });
    const workers = await startWorkerProcesses(3, env, ['--queues', 'auth_emails,booking_emails']);
    const queues = ['auth_emails', 'booking_emails'].map(
      (name) => new Queue(name, { connection: { url: TEST_REDIS_URL }, prefix }),
    );
    try {
      // More than the window can take, over two queues: the quota is one for every queue.
      const jobs = (RATE * WINDOW_S * 1.5) / 2;
      await queues[0]!.addBulk(
        Array.from({ length: jobs }, (_, i) => ({
          name: 'send_welcome_email',
          data: { email: `q${i}@example.com` },
        })),
      );
      await queues[1]!.addBulk(
        Array.from({ length: jobs }, (_, i) => ({
          // A task arriving on another queue still runs there, under the same quota. Job ids of their own: the
          // same id on both queues would be one email to the ledger.
          name: 'send_welcome_email',
          data: { email: `b${i}@example.com` },
          opts: { jobId: `b${i}` },
        })),
      );
      const before = smtp.messages.length;
      await waitFor(() => smtp.messages.length > before, { timeoutMs: 30_000, what: 'the first message' });
      const start = Date.now();
      const first = smtp.messages.length;
      // A measured window: the count at its end is the rate, the one thing this test is about.
      await waitFor(() => Date.now() - start >= WINDOW_S * 1000, { timeoutMs: (WINDOW_S + 5) * 1000 });
      const sent = smtp.messages.length - first;
      expect(sent).toBeGreaterThanOrEqual(RATE * WINDOW_S * 0.9);
      expect(sent).toBeLessThanOrEqual(RATE * WINDOW_S * 1.1);
      for (const queue of queues) expect(await queue.getFailedCount()).toBe(0);
    } finally {
      await workers.stop();
      await Promise.all(queues.map((queue) => queue.close()));
      await removePrefix(prefix);
    }
  }, 180_000);

  it('slows every sender down after a 454 throttle, and fails nothing', async () => {
    const w = await startTestWorkers(
      'quota-454',
      { ...smtpEnv(smtp), ...databaseEnv(db), EMAIL_RATE_LIMIT: '50' },
      { queues: ['auth_emails'] },
    );
    const redis = new Redis(TEST_REDIS_URL);
    const quota = createSendQuota(redis, w.prefix, { perSecond: 50, burst: 50 });
    const throttled = new Set<number>();
    const firstThrottled = smtp.transactions + 3;
    smtp.reply = (n) => {
      if (n < firstThrottled || n >= firstThrottled + 3) return undefined;
      throttled.add(n);
      return { code: 454, message: '4.7.0 Throttling failure: Maximum sending rate exceeded.' };
    };
    try {
      expect(await quota.factor()).toBe(1);
      const before = smtp.messages.length;
      const addresses = Array.from({ length: 30 }, (_, i) => `throttled${i}@example.com`);
      await w
        .queue('auth_emails')
        .addBulk(addresses.map((email) => ({ name: 'send_welcome_email', data: { email } })));
      await waitFor(() => throttled.size > 0, { timeoutMs: 20_000, what: 'a throttling reply' });
      await waitFor(async () => (await quota.factor()) < 1, {
        timeoutMs: 10_000,
        what: 'the service slowed',
      });
      await waitFor(async () => (await w.queue('auth_emails').getCompletedCount()) === addresses.length, {
        timeoutMs: 60_000,
        what: 'every email sent',
      });
      expect(await w.queue('auth_emails').getFailedCount()).toBe(0);
      const arrived = smtp.messages
        .slice(before)
        .map((m) => (m.to && 'value' in m.to ? m.to.value[0]?.address : ''));
      expect(arrived.sort()).toEqual([...addresses].sort());
      expect(w.logs.some((line) => line.msg === 'the relay throttles: every sender slows down')).toBe(true);
    } finally {
      smtp.reply = () => undefined;
      redis.disconnect();
      await w.stop();
    }
  }, 120_000);
});
