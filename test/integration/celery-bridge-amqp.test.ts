/**
 * Unchanged Celery producers against the bridge over RabbitMQ (CELERY_BROKER_URL amqp://): the same tasks arrive,
 * results come back through the Redis result backend, one task id is one email, and pickle is refused.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCeleryBridge, type RunningBridge } from '../../src/bridges/celery-bridge.js';
import { loadBridgeConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { DEAD_LETTER_QUEUE } from '../../src/queues/dead-letter.js';
import {
  removeCeleryKeys,
  startCeleryProducer,
  uniqueCeleryQueue,
  type CeleryProducer,
} from '../helpers/celery.js';
import { recipientOf } from '../helpers/jobs.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { amqpQueueDepth, deleteAmqpQueues, TEST_AMQP_URL } from '../helpers/rabbitmq.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, smtpEnv, startTestWorkers, testEnv, type TestWorkers } from '../helpers/workers.js';

const QUEUE = uniqueCeleryQueue('amqp');
const BOOKING = 'email_workers.tasks.send_booking_confirmation';

let smtp: SmtpSink;
let schema: TestSchema;
let workers: TestWorkers;
let bridge: RunningBridge;
let producer: CeleryProducer;
let deadLetters: Queue;
const taskIds: string[] = [];

const send = async (action: Record<string, unknown>) => {
  const { id } = await producer.run<{ id: string }>({ op: 'send_task', queue: QUEUE, ...action });
  taskIds.push(id);
  return id;
};
const mailTo = (address: string) =>
  waitFor(() => smtp.messages.find((mail) => recipientOf(mail) === address), {
    timeoutMs: 15_000,
    what: `an email to ${address}`,
  });

beforeAll(async () => {
  smtp = await startSmtpSink();
  schema = await createTestSchema('celery_amqp');
  await schema.addUser({ id: 42, email: 'ada@example.com' });
  workers = await startTestWorkers('celery-amqp', { ...smtpEnv(smtp), ...databaseEnv(schema) });
  const config = loadBridgeConfig(
    testEnv(workers.prefix, {
      CELERY_BROKER_URL: TEST_AMQP_URL,
      CELERY_QUEUES: QUEUE,
      CELERY_RESULT_BACKEND: TEST_REDIS_URL,
    }),
  );
  bridge = await startCeleryBridge(config, createLogger({ level: 'silent' }), { name: `test-${QUEUE}` });
  producer = startCeleryProducer({
    CELERY_BROKER_URL: TEST_AMQP_URL,
    CELERY_RESULT_BACKEND: TEST_REDIS_URL,
    QUEUE,
  });
  deadLetters = new Queue(DEAD_LETTER_QUEUE, { connection: { url: TEST_REDIS_URL }, prefix: workers.prefix });
});

afterAll(async () => {
  await producer?.close();
  await bridge?.close();
  await deadLetters?.close();
  await workers?.stop();
  await smtp?.close();
  await schema?.drop();
  await deleteAmqpQueues([QUEUE]).catch(() => undefined);
  await removeCeleryKeys(TEST_REDIS_URL, [], taskIds);
});

describe('send_task over RabbitMQ', () => {
  it('delivers positional (user_id, booking_data) under the qualified name', async () => {
    await send({ name: BOOKING, args: [42, { event_name: 'AMQP Conf', booking_id: 'BK-A' }] });
    const mail = await mailTo('ada@example.com');
    expect(mail.subject).toContain('AMQP Conf');
  });

  it('delivers keyword arguments under the bare name', async () => {
    await send({ name: 'send_welcome_email', kwargs: { task_data: { email: 'rabbit@example.com' } } });
    await mailTo('rabbit@example.com');
  });

  it('returns the result dictionary to AsyncResult(id).get()', async () => {
    const id = await send({ name: 'send_welcome_email', args: [{ email: 'result@example.com' }] });
    const answer = await producer.run<{ result: Record<string, unknown> }>({ op: 'get', id, timeout: 20 });
    expect(answer.result).toMatchObject({ success: true, email: 'result@example.com', welcome_sent: true });
  });

  it('sends one email for one task id sent twice, and acknowledges both', async () => {
    const taskId = `amqp-dup-${Date.now()}`;
    await send({ name: 'send_welcome_email', args: [{ email: 'twice@example.com' }], task_id: taskId });
    await send({ name: 'send_welcome_email', args: [{ email: 'twice@example.com' }], task_id: taskId });
    await mailTo('twice@example.com');
    const job = await workers.queue('auth_emails').getJob(`send_welcome_email~${taskId}`);
    await job!.waitUntilFinished(await workers.events('auth_emails'), 15_000);
    await waitFor(async () => (await amqpQueueDepth(QUEUE)) === 0, { what: 'an empty queue' });
    expect(smtp.messages.filter((mail) => recipientOf(mail) === 'twice@example.com')).toHaveLength(1);
  });

  it('turns RabbitMQ’s priority (higher first) into BullMQ’s (1 first)', async () => {
    const id = await send({ name: 'send_welcome_email', args: [{ email: 'p@example.com' }], priority: 7 });
    await mailTo('p@example.com');
    const job = await workers.queue('auth_emails').getJob(`send_welcome_email~${id}`);
    expect(job?.opts.priority).toBe(3);
  });

  it('refuses a pickle-serialized message without decoding it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celery-pickle-'));
    try {
      const path = join(dir, 'pwned');
      const { id } = await producer.run<{ id: string }>({
        op: 'send_pickle_exploit',
        name: 'send_welcome_email',
        queue: QUEUE,
        path,
      });
      const letter = await waitFor(async () =>
        (await deadLetters.getJobs(['waiting'])).find((job) => job.data.message_id === id),
      );
      expect(letter.data).toMatchObject({ code: 'MESSAGE_UNDECODABLE', origin: QUEUE });
      expect(letter.data.reason).toMatch(/unsupported serializer application\/x-python-serialize/);
      expect(existsSync(path)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
