/**
 * The workers' timers besides the jobs: the daily purge of old ledger rows, the trim of each queue's events
 * stream (any producer's own BullMQ Queue rewrites the cap in the queue's meta, so the workers trim it too), and
 * the records of sends the database could not take when they happened (unrecorded-sends.ts), every 5 s, and the
 * dead letters' retention (DEAD_LETTER_RETENTION, DEAD_LETTER_RETENTION_COUNT), every minute.
 */
import type { Queue } from 'bullmq';
import type { Config } from '../config.js';
import type { Ledger } from '../db/ledger/index.js';
import type { Logger } from '../logger.js';
import type { DeadLetterAdmin } from './dead-letter-admin.js';
import type { UnrecordedSends } from './unrecorded-sends.js';

/** Starts the timers; returns the function that stops them. */
export function scheduleMaintenance(
  queues: readonly Queue[],
  ledger: Ledger | undefined,
  unrecorded: UnrecordedSends | undefined,
  config: Config,
  logger: Logger,
  deadLetters?: Pick<DeadLetterAdmin, 'trim'>,
): () => void {
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, work: () => void, firstMs = ms) => {
    const first = setTimeout(() => {
      work();
      const repeat = setInterval(work, ms);
      repeat.unref();
      timers.push(repeat);
    }, firstMs);
    first.unref();
    timers.push(first);
  };
  every(60_000, () => {
    for (const queue of queues) queue.trimEvents(config.retention.eventsMaxLen).catch(() => undefined);
  });
  if (deadLetters) {
    const { retentionS, retentionCount } = config.deadLetters;
    every(60_000, () => {
      deadLetters.trim(retentionS * 1000, retentionCount).then(
        (removed) => removed && logger.info({ removed }, 'old dead letters removed'),
        () => undefined, // Redis is out: the next round tries again.
      );
    });
  }
  if (unrecorded) {
    let writing = false;
    every(5_000, () => {
      if (writing) return;
      writing = true;
      unrecorded
        .recordAll()
        .then(
          (written) => written && logger.info({ written }, 'sends made during a database outage recorded'),
          () => undefined, // Still out: the next round tries again.
        )
        .finally(() => (writing = false));
    });
  }
  if (ledger) {
    const { retentionDays } = config.ledger;
    every(
      86_400_000,
      () =>
        void ledger.purge(retentionDays).then(
          (deleted) => deleted && logger.info({ deleted, retentionDays }, 'old ledger rows purged'),
          (error: Error) => logger.warn({ err: error.message }, 'ledger purge failed'),
        ),
      60_000,
    );
  }
  return () => timers.forEach((timer) => clearTimeout(timer));
}
