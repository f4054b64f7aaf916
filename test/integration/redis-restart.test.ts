/**
 * Workers outlive a Redis restart: jobs enqueued after Redis comes back are delivered without restarting the
 * worker process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { startOwnRedis, type OwnRedis } from '../helpers/redis-server.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startTestWorkers, type TestWorkers, smtpEnv } from '../helpers/workers.js';

let redis: OwnRedis;
let smtp: SmtpSink;
let w: TestWorkers;

beforeAll(async () => {
  redis = await startOwnRedis();
  smtp = await startSmtpSink();
  w = await startTestWorkers(
    'restart',
    { ...smtpEnv(smtp), REDIS_URL: redis.url },
    { queues: ['auth_emails'] },
  );
});

afterAll(async () => {
  await w?.running.close();
  await smtp?.close();
  await redis?.stop();
});

describe('after a Redis restart', () => {
  it('keeps delivering', async () => {
    const producer = () => new Queue('auth_emails', { connection: { url: redis.url }, prefix: w.prefix });
    const before = producer();
    await before.add('send_welcome_email', { email: 'before@example.com' });
    await smtp.waitForMessages(1);
    await before.close();

    await redis.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await redis.start();

    const after = producer();
    try {
      await after.add('send_welcome_email', { email: 'after@example.com' });
      const messages = await smtp.waitForMessages(2, 30_000);
      expect(messages.map((m) => (m.to && 'value' in m.to ? m.to.value[0]?.address : ''))).toEqual([
        'before@example.com',
        'after@example.com',
      ]);
    } finally {
      await after.close();
    }
  });
});
