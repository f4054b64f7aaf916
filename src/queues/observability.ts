/**
 * What makes a worker process visible, started once the workers run: the health server (HEALTH_PORT), the queue
 * gauges of `/metrics`, the heartbeat the monitor lists, and the stats log line. Returns the function that
 * stops them all (the heartbeat's last beat says the process is gone).
 */
import type { Queue } from 'bullmq';
import type { RedisConnection } from './connection.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { startHeartbeat } from './heartbeat.js';
import { startHealthServer } from './health-server.js';
import { registerQueueGauges, type WorkerMetrics } from './metrics.js';
import type { ComponentProbe } from './readiness.js';
import { startStatsLog } from './stats-log.js';
import { answerSupervisor } from './supervised.js';

export const HEARTBEAT_INTERVAL_MS = 10_000;

export interface ObservabilityOptions {
  config: Pick<Config, 'health' | 'redis'>;
  logger: Logger;
  redis: RedisConnection;
  metrics: WorkerMetrics;
  /** Readiness components; add a breaker with `breakerProbe` (readiness.ts). */
  probes: readonly ComponentProbe[];
  queues: readonly Queue[];
  worker: { name: string; concurrency: number };
  /** Run by `--processes N`: the supervisor serves HEALTH_PORT, and this process answers it over IPC. */
  supervised?: boolean;
}

export async function startObservability(options: ObservabilityOptions): Promise<() => Promise<void>> {
  const { config, logger, metrics } = options;
  registerQueueGauges(metrics.registry, () => options.queues);
  const stopAnswering = options.supervised ? answerSupervisor(metrics.registry, options.probes) : undefined;
  const health =
    config.health.port > 0 && !options.supervised
      ? await startHealthServer({
          port: config.health.port,
          probes: options.probes,
          registry: metrics.registry,
        })
      : undefined;
  if (health) logger.info({ port: health.port }, 'health and metrics served');
  const heartbeat = startHeartbeat(
    options.redis,
    config.redis,
    {
      kind: 'email-workers',
      name: options.worker.name,
      queues: options.queues.map((queue) => queue.name),
      concurrency: options.worker.concurrency,
      counts: () => {
        const totals = metrics.totals();
        return { jobs_processed: totals.total - totals.retried, jobs_failed: totals.failed };
      },
    },
    HEARTBEAT_INTERVAL_MS,
    logger,
  );
  const stopStats = startStatsLog(metrics.totals, config.health.statsIntervalS, logger);
  return async () => {
    stopStats();
    stopAnswering?.();
    await heartbeat.stop();
    await health?.close();
  };
}
