/** One `worker stats` log line every WORKER_STATS_INTERVAL seconds, with totals since start (as the seeds' workers). */
import type { Logger } from '../logger.js';
import type { JobTotals } from './metrics.js';

export function startStatsLog(
  totals: () => Readonly<JobTotals>,
  intervalS: number,
  logger: Logger,
): () => void {
  if (intervalS <= 0) return () => undefined;
  const timer = setInterval(() => logger.info({ stats: totals() }, 'worker stats'), intervalS * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
