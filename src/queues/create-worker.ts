/**
 * One BullMQ Worker for one queue, with the settings that make recovery fast: a short lock (renewed at half its
 * length while the job runs), a short stalled check, so a killed worker's jobs are running elsewhere within
 * seconds, and a few crashes allowed per job (MAX_STALLED_COUNT), so a few deploys in a row dead-letter nothing.
 */
import { Worker, type Job } from 'bullmq';
import type { Config } from '../config.js';
import { maskEmailsIn, recipientHint, type Logger } from '../logger.js';
import type { QueueName } from '../tasks/define-task.js';
import { queuePrefix, type RedisConnection } from './connection.js';
import type { Processor } from './process-job.js';

export interface WorkerSettings {
  concurrency: number;
  name: string;
}

export function createWorker(
  queueName: QueueName,
  redis: RedisConnection,
  processor: Processor,
  config: Config,
  settings: WorkerSettings,
  logger: Logger,
): Worker {
  const worker = new Worker(queueName, processor, {
    // BullMQ duplicates this connection for its blocking reads; the commands share it.
    connection: redis,
    prefix: queuePrefix(config.redis, queueName),
    concurrency: settings.concurrency,
    name: settings.name,
    lockDuration: config.worker.lockDurationMs,
    stalledInterval: config.worker.stalledIntervalMs,
    maxStalledCount: config.worker.maxStalledCount,
    // After Redis comes back, a job's completion is written again within a second or two, not 15 s.
    runRetryDelay: 1_000,
    // Applies to jobs whose producer set no retention of its own, so Redis does not grow without bound.
    removeOnComplete: { age: config.retention.completedAgeS, count: config.retention.completedCount },
    removeOnFail: { age: config.retention.failedAgeS },
  });
  worker.on('error', (error) => logger.debug({ queue: queueName, err: error.message }, 'worker error'));
  worker.on('failed', (job: Job | undefined, error: Error) => {
    if (!job) return;
    // Every failure that reaches BullMQ is final (retries are delayed jobs). The dead-letter alerter logs it at
    // fatal once, from the queue's events (a crashed worker never gets here); this line is the worker's own.
    logger.error(
      {
        jobId: job.id && maskEmailsIn(job.id),
        task: maskEmailsIn(job.name),
        queue: queueName,
        to: recipientHint((job.data ?? {}) as Record<string, unknown>),
        runs: job.attemptsStarted,
        lastError: maskEmailsIn(error.message),
      },
      'job failed for good',
    );
  });
  return worker;
}
