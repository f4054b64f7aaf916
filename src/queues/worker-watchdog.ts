/**
 * Recreates a Worker that stopped taking jobs while its queue has work and it has free slots: the symptom of a
 * blocking connection that did not come back after a Redis restart, or of a run loop that ended on an error.
 * BullMQ 6 reconnects by itself in the cases known to us; this is the safety net for the rest, judged by
 * progress rather than by connection internals.
 */
import type { Queue, Worker } from 'bullmq';
import type { Logger } from '../logger.js';
import type { RedisConnection } from './connection.js';

/** One queue's worker and what it did since the last check; kept up to date by the processor wrapper. */
export interface WorkerSlot {
  queue: Queue;
  worker: Worker;
  /** Jobs started since the last check. */
  started: number;
  inFlight: number;
}

export function watchWorkers(
  slots: readonly WorkerSlot[],
  recreate: (slot: WorkerSlot) => Promise<void>,
  redis: RedisConnection,
  logger: Logger,
  intervalMs: number,
): () => void {
  const stuckChecks = new Map<WorkerSlot, number>();
  let checking = false;
  let stopped = false;

  const check = async () => {
    if (checking || stopped || redis.status !== 'ready') return;
    checking = true;
    try {
      for (const slot of slots) {
        const { worker } = slot;
        // A paused worker or queue (queue.pause() only flags the queue) is meant to take no jobs.
        if (worker.isPaused() || (await slot.queue.isPaused())) {
          stuckChecks.set(slot, 0);
          logger.debug({ queue: slot.queue.name }, 'watchdog: paused, left alone');
          continue;
        }
        const waiting = await slot.queue.getJobCountByTypes('wait', 'prioritized');
        const stuck =
          !worker.isRunning() || (waiting > 0 && slot.started === 0 && slot.inFlight < worker.concurrency);
        slot.started = 0;
        // Two checks in a row, so a worker that is merely between jobs is left alone; and never with jobs in
        // flight, which a forced close would hand to another attempt while they may still be sending.
        const count = stuck ? (stuckChecks.get(slot) ?? 0) + 1 : 0;
        stuckChecks.set(slot, count);
        if (count >= 2 && slot.inFlight === 0 && !stopped) {
          logger.error(
            { queue: slot.queue.name, waiting },
            'worker took no jobs while its queue had work: recreating it',
          );
          stuckChecks.set(slot, 0);
          await recreate(slot);
        }
      }
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'worker watchdog check failed');
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
