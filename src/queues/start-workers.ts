/**
 * Builds everything a worker process needs once (templates, SMTP pool, database pool, Redis), checks it, and
 * starts one BullMQ Worker per selected queue. Returns a handle whose `close()` drains in-flight jobs.
 */
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { DatabaseNotConfiguredError, StartupError, TemplateError } from '../errors.js';
import { maskEmailsIn, recipientHint, type Logger } from '../logger.js';
import { createLedger, type Ledger } from '../db/deliveries.js';
import { migrate, pendingMigrations } from '../db/migrate.js';
import { openDatabase, type Database } from '../db/open-database.js';
import { isConnectionFailure } from '../db/pool.js';
import { createUserDirectory } from '../db/users.js';
import type { Outbox } from '../mail/outbox.js';
import { loadTemplates, type Templates } from '../mail/templates.js';
import { createMailer, type Mailer } from '../mail/transport.js';
import { QUEUE_NAMES, type QueueName } from '../tasks/define-task.js';
import { TASK_NAMES, tasks } from '../tasks/registry.js';
import { renderSample } from '../tasks/render-sample.js';
import { createRedis } from './connection.js';
import { checkHealth } from './health.js';
import { openQueues } from './open-queues.js';
import { createProcessor, type Processor, type Services } from './process-job.js';
import { watchWorkers, type WorkerSlot } from './worker-watchdog.js';

export interface WorkerOptions {
  queues?: readonly QueueName[];
  /** Jobs run at once per queue (WORKER_CONCURRENCY). */
  concurrency?: number;
  name?: string;
  /** How often a worker that takes no jobs while its queue has work is looked for (15 s). */
  watchdogIntervalMs?: number;
}

export interface RunningWorkers {
  readonly queues: readonly QueueName[];
  readonly workers: ReadonlyMap<QueueName, Worker>;
  /** Where development mail lands when no SMTP server is configured. */
  readonly outbox: Outbox | undefined;
  /** Stops taking jobs, waits for those in flight up to SHUTDOWN_TIMEOUT_MS, closes every connection. */
  close(): Promise<void>;
}

export async function startWorkers(
  config: Config,
  logger: Logger,
  options: WorkerOptions = {},
): Promise<RunningWorkers> {
  const queueNames = options.queues?.length ? [...options.queues] : [...QUEUE_NAMES];
  const closers: Array<() => Promise<unknown> | unknown> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
  };

  try {
    const unknownTasks = Object.keys(config.ledger.uncertainDelivery).filter(
      (name) => !Object.hasOwn(tasks, name),
    );
    if (unknownTasks.length) {
      throw new StartupError(
        `UNCERTAIN_DELIVERY: unknown task ${unknownTasks.join(', ')}; known: ${TASK_NAMES.join(', ')}`,
      );
    }
    const templates = await prepareTemplates(config);
    logger.info({ templates: templates.names.length }, 'templates compiled');

    const redis = createRedis(config.redis.url, 'worker', (error) =>
      logger.error({ err: error.message }, 'redis connection error'),
    );
    closers.push(() => redis.quit());
    await checkRedis(redis, config);

    const { mailer, outbox } = await prepareMailer(config, logger);
    // Closed in reverse: the pool's connections go first, then the outbox that serves them.
    closers.push(
      () => outbox?.close(),
      () => mailer.close(),
    );

    const database = await openDatabase(config, {
      onIdleError: (error) => logger.warn({ err: error.message }, 'idle database connection lost'),
    });
    if (database) closers.push(() => database.close());
    if (database?.embedded)
      logger.info({ dir: database.embedded.dir }, 'no DATABASE_URL: using the embedded PostgreSQL');
    const ledger = await prepareLedger(database, config, logger);
    if (ledger) closers.push(schedulePurge(ledger, config.ledger.retentionDays, logger));
    const findRecipient = await prepareRecipients(database, config, logger);

    const services: Services = {
      defaults: config.defaults,
      findRecipient,
      // Both are closures over state built once, not methods that need their object.
      render: templates.render,
      send: mailer.send,
      checkHealth: () => checkHealth({ redis, mailer, pool: database?.pool, templates }),
      now: () => new Date(),
    };
    const processor = createProcessor({ config, logger, services, ledger });

    const handles = openQueues(queueNames, redis, config, logger);
    closers.push(() => handles.close());
    const slots: WorkerSlot[] = [];
    const workerFor = (queueName: QueueName, slot: WorkerSlot) =>
      createWorker(queueName, redis, trackProgress(slot, processor), config, logger, options);
    for (const queueName of queueNames) {
      const slot: WorkerSlot = {
        queue: handles.get(queueName),
        worker: undefined as unknown as Worker,
        started: 0,
        inFlight: 0,
      };
      slot.worker = workerFor(queueName, slot);
      slots.push(slot);
      closers.push(() => slot.worker.close(true));
    }
    await Promise.all(slots.map((slot) => slot.worker.waitUntilReady()));
    const stopWatchdog = watchWorkers(
      slots,
      async (slot) => {
        const stuck = slot.worker;
        slot.worker = workerFor(slot.queue.name as QueueName, slot);
        // Nothing is in flight on it (the watchdog checks), so forcing only cuts its dead connections.
        await stuck.close(true).catch(() => undefined);
      },
      redis,
      logger,
      options.watchdogIntervalMs ?? 15_000,
    );
    closers.push(stopWatchdog);
    // Any producer's Queue rewrites the stream cap in the queue's meta, so the workers also trim it themselves.
    const trim = setInterval(() => {
      for (const slot of slots) {
        slot.queue.trimEvents(config.retention.eventsMaxLen).catch(() => undefined);
      }
    }, 60_000);
    trim.unref();
    closers.push(() => clearInterval(trim));
    logger.info(
      {
        queues: queueNames,
        concurrency: options.concurrency ?? config.worker.concurrency,
        outbox: outbox?.dir,
      },
      'workers started',
    );

    let closing: Promise<void> | undefined;
    return {
      queues: queueNames,
      get workers() {
        return new Map(slots.map((slot) => [slot.queue.name as QueueName, slot.worker]));
      },
      outbox,
      close: () =>
        (closing ??= (async () => {
          stopWatchdog();
          await drain(
            slots.map((slot) => slot.worker),
            config.worker.shutdownTimeoutMs,
            logger,
          );
          // After a forced close, handlers may still be between the SMTP server's 250 and the ledger's record:
          // keep the pools open for them a little longer, so that what was sent gets recorded.
          await settle(slots, HANDLER_GRACE_MS);
          await closeAll();
        })()),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Counts what the watchdog needs to tell a stuck worker from a busy one. */
function trackProgress(slot: WorkerSlot, processor: Processor): Processor {
  return async (job, token) => {
    slot.started++;
    slot.inFlight++;
    try {
      return await processor(job, token);
    } finally {
      slot.inFlight--;
    }
  };
}

function createWorker(
  queueName: QueueName,
  redis: Redis,
  processor: Processor,
  config: Config,
  logger: Logger,
  options: WorkerOptions,
): Worker {
  const worker = new Worker(queueName, processor, {
    // BullMQ duplicates this connection for its blocking reads; the commands share it.
    connection: redis,
    prefix: config.redis.prefix,
    concurrency: options.concurrency ?? config.worker.concurrency,
    name: options.name ?? config.worker.name,
    // Applies to jobs whose producer set no retention of its own, so Redis does not grow without bound.
    removeOnComplete: { age: config.retention.completedAgeS, count: config.retention.completedCount },
    removeOnFail: { age: config.retention.failedAgeS },
  });
  worker.on('error', (error) => logger.error({ queue: queueName, err: error.message }, 'worker error'));
  worker.on('failed', (job: Job | undefined, error: Error) => {
    if (!job) return;
    // Every failure that reaches BullMQ is final (retries are delayed jobs): this job is a dead letter now.
    logger.fatal(
      {
        jobId: job.id,
        task: job.name,
        queue: queueName,
        to: recipientHint((job.data ?? {}) as Record<string, unknown>),
        attempts: job.attemptsStarted,
        lastError: maskEmailsIn(error.message),
      },
      'dead letter: job failed for good',
    );
  });
  return worker;
}

const HANDLER_GRACE_MS = 5_000;

async function settle(slots: WorkerSlot[], graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (slots.some((slot) => slot.inFlight > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function drain(workers: Worker[], timeoutMs: number, logger: Logger): Promise<void> {
  const graceful = Promise.all(workers.map((worker) => worker.close()));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    graceful.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    // Jobs still running will be picked up again once their lock expires (at least once).
    logger.warn({ timeoutMs }, 'shutdown timeout: closing workers with jobs in flight');
    await Promise.all(workers.map((worker) => worker.close(true)));
  }
}

async function prepareTemplates(config: Config): Promise<Templates> {
  const templates = loadTemplates({
    dir: config.templatesDir,
    brand: config.brand,
    defaults: config.defaults,
  });
  for (const task of Object.values(tasks)) {
    try {
      await renderSample(task, templates.render, config.defaults);
    } catch (error) {
      throw new TemplateError(
        `templates/${task.name}/ does not render the task's sample: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  return templates;
}

async function checkRedis(redis: Redis, config: Config): Promise<void> {
  try {
    await redis.ping();
  } catch (error) {
    throw new StartupError(
      `Redis at ${redactUrl(config.redis.url)} does not answer: ${(error as Error).message}`,
    );
  }
  if (config.env !== 'production') return;
  // BullMQ only warns; an evicting Redis silently loses jobs.
  const info = await redis.info('memory');
  const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
  if (policy && policy !== 'noeviction') {
    throw new StartupError(
      `Redis maxmemory-policy is ${policy}: set it to noeviction, or jobs can be evicted`,
    );
  }
}

async function prepareMailer(config: Config, logger: Logger): Promise<{ mailer: Mailer; outbox?: Outbox }> {
  let outbox: Outbox | undefined;
  let host = config.smtp.host;
  let port = config.smtp.port;
  if (!host) {
    // Loaded only here: a worker with a real SMTP server never carries the capture server's code.
    const { startOutbox } = await import('../mail/outbox.js');
    outbox = await startOutbox(config.smtp.outboxDir);
    ({ host, port } = outbox);
    logger.info({ outbox: outbox.dir, port }, 'no SMTP_HOST: capturing mail as .eml files');
  }
  const mailer = createMailer(
    { ...config.smtp, host, port },
    { address: config.mail.fromAddress, name: config.mail.fromName, replyTo: config.mail.replyTo },
  );
  try {
    await mailer.verify();
    logger.info({ host, port }, 'SMTP connection verified');
  } catch (error) {
    // Not fatal: jobs retry until the server is back, as they would after a failure later on.
    logger.error({ host, port, err: (error as Error).message }, 'SMTP verification failed');
  }
  return { mailer, outbox };
}

async function prepareLedger(
  database: Database | undefined,
  config: Config,
  logger: Logger,
): Promise<Ledger | undefined> {
  if (!config.ledger.enabled) {
    logger.warn('delivery ledger off (LEDGER_ENABLED=false): a job that runs twice sends its email twice');
    return undefined;
  }
  if (!database) {
    logger.warn('no database: delivery ledger off, a job that runs twice sends its email twice');
    return undefined;
  }
  const { schema } = config.ledger;
  let pending: string[];
  try {
    pending = await pendingMigrations(database.pool, schema);
  } catch (error) {
    if (!isConnectionFailure(error)) throw error;
    // Start anyway: every job retries until the database is back, as it would after an outage later on.
    logger.error(
      { err: (error as Error).message },
      'database unavailable at start: jobs will retry until it is back',
    );
    return createLedger(database.pool, schema);
  }
  if (pending.length) {
    if (!config.ledger.migrateOnStart && !database.embedded) {
      throw new StartupError(
        `the database lacks migrations ${pending.join(', ')} in schema ${schema}: run \`start-workers migrate\` ` +
          '(or set MIGRATE_ON_START=true)',
      );
    }
    const applied = await migrate(database.pool, schema);
    logger.info({ schema, applied }, 'migrations applied');
  }
  return createLedger(database.pool, schema);
}

/** Deletes ledger rows older than LEDGER_RETENTION_DAYS once a day (and once shortly after start). */
function schedulePurge(ledger: Ledger, retentionDays: number, logger: Logger): () => void {
  const purge = () =>
    ledger.purge(retentionDays).then(
      (deleted) => deleted && logger.info({ deleted, retentionDays }, 'old ledger rows purged'),
      (error: Error) => logger.warn({ err: error.message }, 'ledger purge failed'),
    );
  const first = setTimeout(purge, 60_000);
  const daily = setInterval(purge, 86_400_000);
  first.unref();
  daily.unref();
  return () => {
    clearTimeout(first);
    clearInterval(daily);
  };
}

async function prepareRecipients(
  database: Database | undefined,
  config: Config,
  logger: Logger,
): Promise<Services['findRecipient']> {
  if (!database) {
    logger.warn('no database configured: tasks addressed by user_id will fail until DATABASE_URL is set');
    return () => Promise.reject(new DatabaseNotConfiguredError());
  }
  const users = createUserDirectory(database.pool, config.database.users);
  try {
    await users.check();
    logger.info({ table: config.database.users.table }, 'users table readable');
  } catch (error) {
    const code = (error as { code?: string }).code;
    // The embedded database has no users until `seed-users` adds them, which may happen while we run.
    if (code?.startsWith('42') && database.embedded) {
      logger.warn('the embedded database has no users table yet: run `start-workers seed-users`');
    } else if (code?.startsWith('42')) {
      // The table or a column does not exist; no job could succeed, so say so now.
      throw new StartupError(
        `users lookup does not work (check USERS_TABLE and USERS_*_COLUMN): ${(error as Error).message}`,
      );
    } else {
      logger.error(
        { err: (error as Error).message },
        'database unavailable at start; user_id tasks will retry',
      );
    }
  }
  return (userId) => users.findRecipient(userId);
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
