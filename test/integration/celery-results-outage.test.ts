/**
 * Celery's result backend down when a task ends: the bridge keeps the result until the backend is back, so the
 * unchanged producer's `AsyncResult(id).get()` still returns it (it used to be dropped with the mapping).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCeleryBridge, type RunningBridge } from '../../src/bridges/celery-bridge.js';
import { loadBridgeConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import {
  removeCeleryKeys,
  startCeleryProducer,
  uniqueCeleryQueue,
  type CeleryProducer,
} from '../helpers/celery.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { smtpEnv, startTestWorkers, testEnv, type TestWorkers } from '../helpers/workers.js';

const QUEUE = uniqueCeleryQueue('results-outage');

let smtp: SmtpSink;
let workers: TestWorkers;
let backend: TcpProxy;
let bridge: RunningBridge;
let producer: CeleryProducer;
let redis: Redis;
const taskIds: string[] = [];

beforeAll(async () => {
  smtp = await startSmtpSink();
  workers = await startTestWorkers('celery-results-outage', smtpEnv(smtp));
  backend = await startTcpProxy(Number(new URL(TEST_REDIS_URL).port || 6379));
  const config = loadBridgeConfig(
    testEnv(workers.prefix, {
      CELERY_BROKER_URL: TEST_REDIS_URL,
      CELERY_QUEUES: QUEUE,
      CELERY_RESULT_BACKEND: `redis://127.0.0.1:${backend.port}/0`,
    }),
  );
  bridge = await startCeleryBridge(config, createLogger({ level: 'silent' }), { name: `test-${QUEUE}` });
  producer = startCeleryProducer({
    CELERY_BROKER_URL: TEST_REDIS_URL,
    CELERY_RESULT_BACKEND: TEST_REDIS_URL,
    QUEUE,
  });
  redis = new Redis(TEST_REDIS_URL);
});

afterAll(async () => {
  await producer?.close();
  await bridge?.close();
  await workers?.stop();
  await backend?.close();
  await smtp?.close();
  await removeCeleryKeys(TEST_REDIS_URL, [QUEUE], taskIds);
  redis?.disconnect();
});

describe('a result backend that is down when the task ends', () => {
  it('gets the result once it is back, and AsyncResult.get() returns it', { timeout: 60_000 }, async () => {
    await backend.refuse();
    const { id } = await producer.run<{ id: string }>({
      op: 'send_task',
      queue: QUEUE,
      name: 'send_welcome_email',
      kwargs: { task_data: { email: 'later@example.com', user_data: { username: 'later' } } },
    });
    taskIds.push(id);
    await smtp.waitForMessages(1, 20_000);
    await waitFor(async () => (await workers.queue('auth_emails').getCompletedCount()) === 1, {
      timeoutMs: 20_000,
      what: 'the job to complete',
    });
    // Written nowhere while the backend is down.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await redis.exists(`celery-task-meta-${id}`)).toBe(0);

    await backend.restore();
    const answer = await producer.run<{ result: Record<string, unknown> }>({ op: 'get', id, timeout: 30 });
    expect(answer.result).toMatchObject({ success: true, email: 'later@example.com' });
  });
});
