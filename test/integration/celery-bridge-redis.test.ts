/**
 * Unchanged Celery producers (Debian's python3-celery) against the bridge and the real workers, over kombu's Redis
 * transport: what they send arrives as the right email, AsyncResult.get() answers as the old service did, and
 * what cannot be understood is dead-lettered, never executed.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { register } from 'prom-client';
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
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, smtpEnv, startTestWorkers, testEnv, type TestWorkers } from '../helpers/workers.js';

const QUEUE = uniqueCeleryQueue('redis');
const BOOKING = 'email_workers.tasks.send_booking_confirmation';

let smtp: SmtpSink;
let schema: TestSchema;
let workers: TestWorkers;
let bridge: RunningBridge;
let producer: CeleryProducer;
let deadLetters: Queue;
let redis: Redis;
const bridgeLogs: Array<Record<string, unknown>> = [];
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
  schema = await createTestSchema('celery_redis');
  await schema.addUser({ id: 42, email: 'ada@example.com', full_name: 'Ada Lovelace' });
  await schema.addUser({ id: 43, email: 'grace@example.com' });
  workers = await startTestWorkers('celery-redis', { ...smtpEnv(smtp), ...databaseEnv(schema) });
  const config = loadBridgeConfig(
    testEnv(workers.prefix, {
      CELERY_BROKER_URL: TEST_REDIS_URL,
      CELERY_QUEUES: QUEUE,
      CELERY_RESULT_BACKEND: TEST_REDIS_URL,
    }),
  );
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) bridgeLogs.push(JSON.parse(line));
      callback();
    },
  });
  bridge = await startCeleryBridge(config, createLogger({ level: 'debug', destination }), {
    name: `test-${QUEUE}`,
  });
  producer = startCeleryProducer({
    CELERY_BROKER_URL: TEST_REDIS_URL,
    CELERY_RESULT_BACKEND: TEST_REDIS_URL,
    QUEUE,
  });
  deadLetters = new Queue(DEAD_LETTER_QUEUE, { connection: { url: TEST_REDIS_URL }, prefix: workers.prefix });
  redis = new Redis(TEST_REDIS_URL);
});

afterAll(async () => {
  await producer?.close();
  await bridge?.close();
  await deadLetters?.close();
  await workers?.stop();
  await smtp?.close();
  await schema?.drop();
  await removeCeleryKeys(TEST_REDIS_URL, [QUEUE], taskIds);
  redis?.disconnect();
});

describe('send_task through kombu’s Redis transport', () => {
  it('delivers a qualified name with positional (user_id, booking_data) as the booking confirmation', async () => {
    await send({ name: BOOKING, args: [42, { event_name: 'JSConf EU', booking_id: 'BK-7', quantity: 2 }] });
    const mail = await mailTo('ada@example.com');
    expect(mail.subject).toContain('JSConf EU');
    expect(mail.text).toContain('BK-7');
  });

  it('delivers a bare name with keyword arguments (task_data for the welcome email)', async () => {
    await send({
      name: 'send_welcome_email',
      kwargs: { task_data: { email: 'kw@example.com', user_data: { username: 'kw' } } },
    });
    const mail = await mailTo('kw@example.com');
    expect(mail.subject).toMatch(/welcome/i);
  });

  it('delivers an OTP sent positionally as (task_data), with its code in the email', async () => {
    await send({ name: 'send_otp_verification_email', args: [{ email: 'otp@example.com', otp: '482913' }] });
    const mail = await mailTo('otp@example.com');
    expect(mail.text).toContain('482913');
  });

  it('delivers .delay() on a registered task signature', async () => {
    const { id } = await producer.run<{ id: string }>({
      op: 'delay',
      name: BOOKING,
      args: [43],
      kwargs: { booking_data: { event_name: 'PyCon', booking_id: 'BK-D' } },
    });
    taskIds.push(id);
    const mail = await mailTo('grace@example.com');
    expect(mail.subject).toContain('PyCon');
  });

  it('delivers a message in protocol 1, as older clients send it', async () => {
    await send({ name: 'send_welcome_email', args: [{ email: 'v1@example.com' }], protocol: 1 });
    await mailTo('v1@example.com');
  });

  it('logs each bridged message with the recipient masked and no OTP', async () => {
    await waitFor(() =>
      bridgeLogs.some((line) => line.outcome === 'bridged' && line.to === 'o***@example.com'),
    );
    const text = JSON.stringify(bridgeLogs);
    expect(text).not.toContain('482913');
    expect(text).not.toContain('otp@example.com');
  });
});

describe('AsyncResult(id).get() in the producer', () => {
  it('returns the old result dictionary', async () => {
    const id = await send({ name: BOOKING, args: [42, { event_name: 'Results', booking_id: 'BK-R' }] });
    const answer = await producer.run<{ result: Record<string, unknown> }>({ op: 'get', id, timeout: 20 });
    expect(answer.result).toMatchObject({
      success: true,
      email: 'ada@example.com',
      booking_id: 'BK-R',
      user_id: 42,
    });
    expect(answer.result.message_id).toEqual(expect.any(String));
    // Kept CELERY_RESULT_EXPIRES (1 h by default), as the old service's results were.
    const ttl = await redis.ttl(`celery-task-meta-${id}`);
    expect(ttl).toBeGreaterThan(3_500);
    expect(ttl).toBeLessThanOrEqual(3_600);
  });

  it('raises with the failure reason when the task fails', async () => {
    const id = await send({ name: BOOKING, args: [999, { event_name: 'Nobody' }] });
    const answer = await producer.run<{ error: string; type: string }>({ op: 'get', id, timeout: 20 });
    expect(answer.type).toBe('PermanentError');
    expect(answer.error).toContain('user 999 not found or inactive');
  });

  it('raises for a task the service does not know, which is dead-lettered', async () => {
    const id = await send({ name: 'email_workers.tasks.send_newsletter', args: [1] });
    const answer = await producer.run<{ error: string }>({ op: 'get', id, timeout: 20 });
    expect(answer.error).toContain('unknown task email_workers.tasks.send_newsletter');
    const letter = await waitFor(async () =>
      (await deadLetters.getJobs(['waiting'])).find((job) => job.data.message_id === id),
    );
    expect(letter.data).toMatchObject({ source: 'celery-bridge', origin: QUEUE, code: 'UNKNOWN_TASK' });
  });
});

describe('timing, duplicates and priority', () => {
  it('holds a countdown=2 task until its eta, two seconds after the send', async () => {
    const sentAt = Date.now();
    await send({ name: 'send_welcome_email', args: [{ email: 'later@example.com' }], countdown: 2 });
    const mail = await mailTo('later@example.com');
    // Mail's Date header has second precision: compare the arrival with the send instead.
    const arrivedAt = Date.now();
    expect(mail).toBeDefined();
    expect(arrivedAt - sentAt).toBeGreaterThanOrEqual(2_000);
  });

  it('sends one email for one task id sent twice', async () => {
    const taskId = `dup-${Date.now()}`;
    await send({ name: 'send_welcome_email', args: [{ email: 'twice@example.com' }], task_id: taskId });
    await send({ name: 'send_welcome_email', args: [{ email: 'twice@example.com' }], task_id: taskId });
    await mailTo('twice@example.com');
    // Both copies are acknowledged only once their job exists: after that, no second email can come.
    await waitFor(() => bridgeLogs.filter((line) => line.messageId === taskId).length === 2);
    const job = await workers.queue('auth_emails').getJob(`send_welcome_email~${taskId}`);
    await job!.waitUntilFinished(await workers.events('auth_emails'), 15_000);
    expect(smtp.messages.filter((mail) => recipientOf(mail) === 'twice@example.com')).toHaveLength(1);
  });

  it('reads the priority sub-queues and turns the Celery priority into a BullMQ one', async () => {
    const id = await send({ name: 'send_welcome_email', args: [{ email: 'prio@example.com' }], priority: 5 });
    await mailTo('prio@example.com');
    const job = await workers.queue('auth_emails').getJob(`send_welcome_email~${id}`);
    expect(job?.opts.priority).toBe(6);
  });

  it('turns expires into the payload’s expires_at', async () => {
    const id = await send({ name: 'send_welcome_email', args: [{ email: 'exp@example.com' }], expires: 600 });
    await mailTo('exp@example.com');
    const job = await workers.queue('auth_emails').getJob(`send_welcome_email~${id}`);
    const expiresAt = Date.parse(job?.data.expires_at);
    expect(expiresAt).toBeGreaterThan(Date.now() + 500_000);
  });
});

describe('a pickle-serialized message', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'celery-pickle-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is a real exploit: unpickling it creates a file', async () => {
    const path = join(dir, 'proof');
    expect(await producer.run({ op: 'unpickle_exploit', path })).toEqual({ created: true });
  });

  it('is refused without being decoded: dead-lettered with the reason, the file never created', async () => {
    const path = join(dir, 'pwned');
    const { id } = await producer.run<{ id: string }>({
      op: 'send_pickle_exploit',
      name: 'send_welcome_email',
      queue: QUEUE,
      path,
    });
    taskIds.push(id);
    const letter = await waitFor(async () =>
      (await deadLetters.getJobs(['waiting'])).find((job) => job.data.message_id === id),
    );
    expect(letter.data.reason).toMatch(/unsupported serializer application\/x-python-serialize/);
    expect(letter.data.message.body).toMatch(/bytes of application\/x-python-serialize, not decoded/);
    expect(existsSync(path)).toBe(false);
    expect(await workers.queue('auth_emails').getJob(`send_welcome_email~${id}`)).toBeUndefined();
  });
});

describe('the bridge’s record and counters', () => {
  it('counts bridged, rejected and acknowledged messages per queue in the default registry', async () => {
    const value = async (name: string) =>
      (await register.getSingleMetric(name)!.get()).values
        .filter((sample) => sample.labels.queue === QUEUE)
        .reduce((sum, sample) => sum + sample.value, 0);
    expect(await value('email_bridge_messages_bridged_total')).toBeGreaterThan(0);
    expect(await value('email_bridge_messages_rejected_total')).toBeGreaterThan(0);
    expect(await value('email_bridge_messages_acknowledged_total')).toBeGreaterThan(0);
  });

  it('is in Redis under the queue prefix with its counts', async () => {
    const record = await waitFor(async () => {
      const text = await redis.get(`${workers.prefix}:bridges:${bridge.name}`);
      const parsed = text ? JSON.parse(text) : undefined;
      return parsed?.counts.bridged > 0 && parsed;
    });
    expect(record).toMatchObject({ kind: 'celery-bridge', pid: process.pid, queues: [QUEUE] });
    expect(record.queue_counts[QUEUE].acknowledged).toBeGreaterThan(0);
  });
});
