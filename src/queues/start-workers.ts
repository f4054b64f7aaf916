/**
 * A worker process: builds its context once (build-context.ts), then runs one BullMQ Worker per selected queue,
 * with per-dependency circuit breakers in front of them, a watchdog and the maintenance timers. Returns a handle
 * whose `close()` stops within SHUTDOWN_TIMEOUT_MS (shutdown.ts).
 */
import type { Worker } from 'bullmq';
import type { Config } from '../config.js';
import type { Dependency } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Outbox } from '../mail/outbox.js';
import { QUEUE_NAMES, type QueueName } from '../tasks/define-task.js';
import { createSuppressionList } from '../db/suppressions.js';
import { findTask } from '../tasks/registry.js';
import { createAdmission } from './admission.js';
import { buildContext, type Closers } from './build-context.js';
import { createBreakers, type Breakers } from './breakers.js';
import { crashHook } from './crash-points.js';
import { queuePrefix } from './connection.js';
import { createWorker } from './create-worker.js';
import { deadLetterAdmin } from './dead-letter-admin.js';
import { startDeadLetterAlerter } from './dead-letter-alerter.js';
import { listenForFailures } from './dead-letter-listener.js';
import { DEAD_LETTER_QUEUE, openDeadLetters } from './dead-letter.js';
import { checkHealth } from './health.js';
import { createJobState, lockHolder } from './job-state.js';
import { scheduleMaintenance } from './maintenance.js';
import { openQueues } from './open-queues.js';
import { createProcessor, type Processor } from './process-job.js';
import { createRecipientLimits } from './recipient-limits.js';
import { createSendQuota } from './send-quota.js';
import { createWorkerMetrics } from './metrics.js';
import { startObservability } from './observability.js';
import { breakerProbe, healthProbes } from './readiness.js';
import { shutDown, type ShutdownReport } from './shutdown.js';
import { unrecordedSends } from './unrecorded-sends.js';
import { watchWorkers, type WorkerSlot } from './worker-watchdog.js';

export interface WorkerOptions {
  queues?: readonly QueueName[];
  /** Jobs run at once per queue (WORKER_CONCURRENCY). */
  concurrency?: number;
  name?: string;
  /** How often a worker that takes no jobs while its queue has work is looked for (15 s). */
  watchdogIntervalMs?: number;
  /** Aborting it stops a start-up that is still waiting for Redis or PostgreSQL. */
  signal?: AbortSignal;
  /** One of `--processes N`: health and metrics go to the supervisor over IPC (supervised.ts). */
  supervised?: boolean;
}

export interface RunningWorkers {
  readonly queues: readonly QueueName[];
  readonly workers: ReadonlyMap<QueueName, Worker>;
  /** Where development mail lands when no SMTP server is configured. */
  readonly outbox: Outbox | undefined;
  readonly breakers: Breakers;
  /** Stops taking jobs and stops within SHUTDOWN_TIMEOUT_MS (+ 1.5 s), whatever its dependencies do. */
  close(): Promise<ShutdownReport>;
}

/**
 * What every job of a queue needs: email needs the SMTP server, and the database too when the ledger is on (every
 * email is recorded there). While one of them is out, that queue's worker takes no jobs.
 */
function dependenciesOf(queue: QueueName, config: Config): readonly Dependency[] {
  if (queue === 'system') return [];
  return config.ledger.enabled ? ['smtp', 'database'] : ['smtp'];
}

export async function startWorkers(
  config: Config,
  logger: Logger,
  options: WorkerOptions = {},
): Promise<RunningWorkers> {
  const queueNames = options.queues?.length ? [...options.queues] : [...QUEUE_NAMES];
  const closers: Closers = [];
  const closeAll = async () => {
    for (const close of [...closers].reverse())
      await Promise.resolve()
        .then(close)
        .catch(() => undefined);
  };

  try {
    const context = await buildContext(config, logger, closers, options.signal);
    const { redis, mailer, ledger, database, templates } = context;
    let closing = false;

    const slots: WorkerSlot[] = [];
    const metrics = createWorkerMetrics(); // issue 9: /metrics, the stats line, the heartbeat's counts
    const prefixOf = (queue: string) => queuePrefix(config.redis, queue);
    const unrecorded = ledger
      ? unrecordedSends(redis, `${config.redis.prefix}:ledger:unrecorded`, ledger)
      : undefined;
    // Before the pools close, and as soon as the database is back: sends it could not record, recorded.
    closers.push(() => unrecorded?.recordAll());
    const fallbackQueues = new Set<QueueName>(
      context.fallback
        ? config.criticalTasks.flatMap((name) => {
            const task = findTask(name);
            return task ? [task.queue] : [];
          })
        : [],
    );
    const breakers = createBreakers({
      threshold: config.breaker.threshold,
      probeIntervalMs: config.breaker.probeIntervalMs,
      probes: {
        smtp: () => mailer.verify(),
        database: ledger
          ? () => ledger.probe()
          : database
            ? async () => void (await database.pool.query('SELECT 1'))
            : undefined,
      },
      logger,
      onChange: (dependency, state) => {
        metrics.setBreakerState(dependency, state);
        if (dependency === 'database' && state === 'closed') unrecorded?.recordAll().catch(() => undefined);
        if (closing) return;
        for (const slot of slots) {
          const queue = slot.queue.name as QueueName;
          // A queue that holds a critical task keeps running on the fallback relay; its other tasks are turned
          // back one by one (process-job.ts) until the primary is back.
          const blocked = dependenciesOf(queue, config).some(
            (d) => breakers.isOpen(d) && !(d === 'smtp' && fallbackQueues.has(queue)),
          );
          if (blocked && !slot.worker.isPaused()) void slot.worker.pause(true);
          if (!blocked && slot.worker.isPaused()) void slot.worker.resume();
        }
      },
    });
    closers.push(() => breakers.stop());
    redis.on('close', () => closing || breakers.failure('redis', new Error('connection to Redis lost')));
    redis.on('ready', () => breakers.success('redis'));

    const jobState = createJobState(redis, prefixOf);
    const processor = createProcessor({
      config,
      logger,
      services: {
        defaults: config.defaults,
        findRecipient: context.findRecipient,
        // Both are closures over state built once, not methods that need their object.
        render: templates.render,
        send: metrics.timeSend(mailer.send),
        relay: mailer.name,
        fallback: context.fallback && {
          name: context.fallback.name,
          send: metrics.timeSend(context.fallback.send),
        },
        checkHealth: () => checkHealth({ redis, mailer, pool: database?.pool, templates, breakers }),
        now: () => new Date(),
      },
      ledger,
      breakers,
      jobState,
      lockHolder: lockHolder(redis, prefixOf),
      crashAt: crashHook(config.chaosCrashPoint),
      unrecorded,
      dependenciesOf: (queue) => dependenciesOf(queue, config),
      metrics,
      // issue 12: the suppression list lives beside the ledger (same database, schema and migrations).
      admission: createAdmission({
        suppressions:
          ledger && database ? createSuppressionList(database.pool, config.ledger.schema) : undefined,
        limits: createRecipientLimits(redis, prefixOf('limits'), config.deliverability.recipientLimits),
        suppressionDays: config.deliverability.suppressionDays,
      }),
      quota: createSendQuota(redis, prefixOf('quota'), config.deliverability.rateLimit),
    });

    const handles = openQueues(queueNames, redis, config, logger);
    closers.push(() => handles.close());
    const settings = {
      concurrency: options.concurrency ?? config.worker.concurrency,
      name: options.name ?? config.worker.name,
    };
    const workerFor = (queueName: QueueName, slot: WorkerSlot) => {
      const worker = createWorker(
        queueName,
        redis,
        trackProgress(slot, processor.process),
        config,
        settings,
        logger,
      );
      // Another run may own the job now: give this one up before it sends, unless it already is.
      worker.on('lockRenewalFailed', (jobIds: string[]) => {
        const given = processor.cutShort('lock lost', { jobIds });
        if (given) logger.warn({ queue: queueName, jobIds }, 'job lock lost: runs given up');
      });
      return worker;
    };
    for (const queueName of queueNames) {
      const slot: WorkerSlot = {
        queue: handles.get(queueName),
        worker: undefined as unknown as Worker,
        started: 0,
        inFlight: 0,
      };
      slot.worker = workerFor(queueName, slot);
      slots.push(slot);
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
    // issue 12: every failure for good becomes a dead letter, and every dead letter an alert, whichever
    // replica's worker (or none, for a crash) saw it fail.
    const deadLetters = openDeadLetters(redis, prefixOf(DEAD_LETTER_QUEUE));
    closers.push(() => deadLetters.close());
    const failures = listenForFailures([...handles.queues.values()], redis, config, deadLetters, logger);
    const alerter = startDeadLetterAlerter(deadLetters.queue, redis, config, logger);
    closers.push(
      () => failures.close(),
      () => alerter.close(),
    );
    const letters = deadLetterAdmin({
      deadLetters: deadLetters.queue,
      queueFor: (name) => handles.queues.get(name as QueueName),
      jobState,
      redis,
      keys: config.encryption.keys,
    });
    closers.push(
      stopWatchdog,
      scheduleMaintenance([...handles.queues.values()], ledger, unrecorded, config, logger, letters),
    );
    // issue 9: health server (HEALTH_PORT), queue gauges, heartbeat, stats line; each breaker is a readiness probe.
    closers.push(
      await startObservability({
        config,
        logger,
        redis,
        metrics,
        probes: [
          ...healthProbes({ redis, mailer, pool: database?.pool, templates }),
          ...(['smtp', 'database', 'redis'] as const).map((d) =>
            breakerProbe(d, () => breakers.status()[d].state),
          ),
        ],
        queues: slots.map((slot) => slot.queue),
        worker: settings,
        supervised: options.supervised,
      }),
    );
    logger.info(
      { queues: queueNames, concurrency: settings.concurrency, outbox: context.outbox?.dir },
      'workers started',
    );

    let stopping: Promise<ShutdownReport> | undefined;
    return {
      queues: queueNames,
      get workers() {
        return new Map(slots.map((slot) => [slot.queue.name as QueueName, slot.worker]));
      },
      outbox: context.outbox,
      breakers,
      close: () =>
        (stopping ??= (() => {
          closing = true;
          stopWatchdog();
          return shutDown(
            slots.map((slot) => slot.worker),
            processor,
            closers,
            config.worker.shutdownTimeoutMs,
            logger,
          );
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
