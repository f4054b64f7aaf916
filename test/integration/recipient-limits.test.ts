/**
 * RECIPIENT_LIMITS across replicas: twenty OTPs to one address at once, taken by three worker processes,
 * deliver exactly five (the default 5 per 10m); the rest fail without retry, `rate limited`, and the ledger says
 * so. Redis holds no key with the address in it.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { removePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { startWorkerProcesses, type WorkerProcesses } from '../helpers/worker-processes.js';
import { databaseEnv, smtpEnv, testEnv } from '../helpers/workers.js';

const ADDRESS = 'flooded@example.com';
let smtp: SmtpSink;
let db: TestSchema;
let prefix: string;
let workers: WorkerProcesses;
let queue: Queue;

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('limits');
  prefix = uniquePrefix('limits');
  workers = await startWorkerProcesses(3, testEnv(prefix, { ...smtpEnv(smtp), ...databaseEnv(db) }), [
    '--queues',
    'auth_emails',
  ]);
  queue = new Queue('auth_emails', { connection: { url: TEST_REDIS_URL }, prefix });
}, 90_000);

afterAll(async () => {
  await workers?.stop();
  await queue?.close();
  await smtp?.close();
  await db?.drop();
  await removePrefix(prefix);
});

describe('per-recipient limits', () => {
  it('delivers exactly 5 of 20 simultaneous OTPs to one address from three worker processes', async () => {
    await queue.addBulk(
      Array.from({ length: 20 }, (_, i) => ({
        name: 'send_otp_verification_email',
        data: { email: ADDRESS, otp: String(100_000 + i) },
      })),
    );
    await waitFor(
      async () => {
        const counts = await queue.getJobCounts('completed', 'failed');
        return counts.completed! + counts.failed! === 20;
      },
      { timeoutMs: 60_000, what: 'all 20 jobs finished' },
    );
    expect(smtp.messages.length).toBe(5);
    const failed = await queue.getFailed(0, -1);
    expect(failed).toHaveLength(15);
    for (const job of failed) {
      expect(job.failedReason).toBe('rate limited (5 per 10m to this address)');
      expect(job.attemptsStarted).toBe(1);
    }
    const { rows } = await db.pool.query<{ status: string; count: string }>(
      `SELECT status, count(*) FROM ${db.schema}.email_deliveries GROUP BY status ORDER BY status`,
    );
    expect(rows.map((row) => [row.status, Number(row.count)])).toEqual([
      ['rate_limited', 15],
      ['sent', 5],
    ]);
  });

  it('keeps no key with the address in its name', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const keys = await redis.keys(`${prefix}:limits:*`);
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.filter((key) => /flooded|example\.com/.test(key))).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
