/**
 * Stopping within SHUTDOWN_TIMEOUT_MS (+ at most 1.5 s), whatever the jobs, the SMTP server or Redis do. Taking
 * jobs stops at once; the jobs in flight get until the timeout to finish; then every run that has not begun to
 * transmit its message is given up — message withdrawn, claim released, job back in the queue uncharged, for
 * another worker — and one that is transmitting gets a moment more before its connection is cut (it is then
 * uncertain, and the next attempt follows the task's policy). A run whose message was accepted is never cut.
 */
import type { Worker } from 'bullmq';
import type { Logger } from '../logger.js';
import type { Closers } from './build-context.js';
import type { JobProcessor } from './process-job.js';

/** After the timeout: how long a message being transmitted may still take, and all that follows at most. */
const TRANSMIT_GRACE_MS = 500;
const AFTER_TIMEOUT_MS = 1_500;

export interface ShutdownReport {
  /** Runs given up before they finished. */
  cutShort: number;
  durationMs: number;
}

export async function shutDown(
  workers: readonly Worker[],
  processor: JobProcessor,
  closers: Closers,
  timeoutMs: number,
  logger: Logger,
): Promise<ShutdownReport> {
  const started = Date.now();
  const deadline = started + timeoutMs + AFTER_TIMEOUT_MS;
  processor.stopTakingJobs();
  // BullMQ's graceful close stops fetching at once and then waits for the runs in flight, however long.
  const closing = Promise.all(workers.map((worker) => worker.close().catch(() => undefined)));

  const drained = () => processor.inFlight === 0;
  let cutShort = 0;
  if (!(await until(drained, started + timeoutMs))) {
    cutShort += processor.cutShort('cut short by shutdown (SHUTDOWN_TIMEOUT_MS)');
    if (!(await until(drained, Date.now() + TRANSMIT_GRACE_MS))) {
      cutShort += processor.cutShort('cut short by shutdown during DATA', { evenDuringData: true });
    }
    await until(drained, deadline);
  }
  // BullMQ's close writes the last states to Redis, which may be gone: not waited for beyond the deadline.
  await Promise.race([closing, sleepUntil(deadline)]);
  for (const close of [...closers].reverse()) {
    await Promise.race([
      Promise.resolve()
        .then(close)
        .catch(() => undefined),
      sleepUntil(deadline),
    ]);
  }
  const report = { cutShort, durationMs: Date.now() - started };
  logger.info(report, 'shutdown complete');
  return report;
}

async function until(condition: () => boolean, deadline: number): Promise<boolean> {
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(25, Math.max(1, deadline - Date.now()))));
  }
  return true;
}

function sleepUntil(deadline: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref());
}
