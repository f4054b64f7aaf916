/**
 * Runs the real workers in the test process against the real Redis, PostgreSQL and an SMTP sink, on this
 * file's own queue prefix; `stop()` closes them and removes the prefix's keys. The test's producers and event
 * listeners reach Redis the way the workers do (one server, Sentinel or Cluster, from the same variables).
 */
import { Writable } from 'node:stream';
import { Queue, QueueEvents } from 'bullmq';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createRedis, queuePrefix, type RedisConnection } from '../../src/queues/connection.js';
import { startWorkers, type RunningWorkers, type WorkerOptions } from '../../src/queues/start-workers.js';
import type { QueueName } from '../../src/tasks/define-task.js';
import { TEST_DATABASE_URL } from './postgres.js';
import { TEST_REDIS_URL, removePrefix, uniquePrefix } from './redis.js';

export interface TestWorkers {
  config: Config;
  prefix: string;
  running: RunningWorkers;
  /** Every log line the workers wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** A plain BullMQ Queue, as any producer would use. */
  queue(name: QueueName): Queue;
  /** QueueEvents for waiting on a job's end. */
  events(name: QueueName): Promise<QueueEvents>;
  stop(): Promise<void>;
}

/** The variables that point the workers at a test's SMTP sink. */
export const smtpEnv = (sink: { port: number }) => ({ SMTP_HOST: '127.0.0.1', SMTP_PORT: String(sink.port) });

/** The variables that point the workers at a test's schema: its users table and its own ledger. */
export const databaseEnv = (schema: { usersTable: string; schema: string }) => ({
  DATABASE_URL: TEST_DATABASE_URL,
  USERS_TABLE: schema.usersTable,
  LEDGER_SCHEMA: schema.schema,
});

/** A logger whose lines are parsed into `logs`, for tests that read what was logged. */
export function capturedLogger(level: string) {
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      callback();
    },
  });
  return { logs, logger: createLogger({ level, destination }) };
}

export function testEnv(prefix: string, env: Record<string, string | undefined> = {}) {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'debug',
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    RETRY_DELAY: '50ms',
    // A test that uses a database passes its own schema as LEDGER_SCHEMA; none starts the embedded one.
    MIGRATE_ON_START: 'true',
    EMBEDDED_DATABASE: 'false',
    RETRY_DELAY_MAX: '1s',
    FROM_ADDRESS: 'bookings@events.example.com',
    FROM_NAME: 'Event Platform',
    SUPPORT_EMAIL: 'support@events.example.com',
    APP_URL: 'https://events.example.com',
    ...env,
  };
}

export async function startTestWorkers(
  label: string,
  env: Record<string, string | undefined>,
  options: WorkerOptions = {},
): Promise<TestWorkers> {
  const prefix = uniquePrefix(label);
  const config = loadConfig(testEnv(prefix, env));
  const { logs, logger } = capturedLogger(config.logLevel);
  const running = await startWorkers(config, logger, options);
  const queues = new Map<QueueName, Queue>();
  const events = new Map<QueueName, QueueEvents>();
  const connections: RedisConnection[] = [];
  const connect = () => {
    const redis = createRedis(config.redis, 'worker', () => undefined);
    connections.push(redis);
    return redis;
  };
  let producer: RedisConnection | undefined;
  return {
    config,
    prefix,
    running,
    logs,
    queue(name) {
      let queue = queues.get(name);
      if (!queue) {
        queue = new Queue(name, {
          connection: (producer ??= connect()),
          prefix: queuePrefix(config.redis, name),
        });
        // A test that stops Redis expects connection errors; the one it waits on fails the test by itself.
        queue.on('error', () => undefined);
        queues.set(name, queue);
      }
      return queue;
    },
    async events(name) {
      let queueEvents = events.get(name);
      if (!queueEvents) {
        // Its blocking reads need a connection of its own. It reads on from the stream's last event as it is now:
        // from `$` (the default) it would miss an event written before its first read, and waitUntilFinished's
        // own check comes before that read, so a job finishing in between would never be seen to finish.
        const [last] = await (producer ??= connect()).xrevrange(
          `${queuePrefix(config.redis, name)}:${name}:events`,
          '+',
          '-',
          'COUNT',
          1,
        );
        if (events.has(name)) return events.get(name)!;
        queueEvents = new QueueEvents(name, {
          connection: connect(),
          prefix: queuePrefix(config.redis, name),
          lastEventId: last?.[0] ?? '0-0',
        });
        queueEvents.on('error', () => undefined);
        events.set(name, queueEvents);
        await queueEvents.waitUntilReady();
      }
      return queueEvents;
    },
    async stop() {
      await running.close();
      await Promise.all([...queues.values()].map((queue) => queue.close()));
      await Promise.all([...events.values()].map((queueEvents) => queueEvents.close()));
      for (const redis of connections) redis.disconnect();
      // A Cluster or Sentinel set of a test's own goes away whole; the shared Redis keeps nothing of ours.
      if (config.redis.mode === 'standalone') await removePrefix(prefix, config.redis.url);
    },
  };
}
