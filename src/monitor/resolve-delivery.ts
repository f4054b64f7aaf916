/**
 * The action behind `/deliveries`' buttons: a person settles a delivery the ledger marks `unknown`, as sent (the
 * mail server's log shows it) or to be sent again, as `start-workers deliveries resolve` does; then its failed job
 * is replayed with a fresh attempt budget, so it completes as a duplicate or sends.
 */
import type { Ledger, Resolution } from '../db/ledger/index.js';
import type { QueueHandles } from '../queues/open-queues.js';
import { QUEUE_NAMES, type QueueName } from '../tasks/define-task.js';

export type { Resolution };

export interface Resolved {
  /** The job was found failed and runs again. */
  replayed: boolean;
}

/** `who` is the login that decided, recorded with the resolution. */
export type ResolveDelivery = (key: string, resolution: Resolution, who: string) => Promise<Resolved>;

/** The key has no `unknown` row: nothing was changed. */
export class NothingToResolveError extends Error {}

export function ledgerResolver(ledger: Ledger | undefined, queues: QueueHandles): ResolveDelivery {
  return async (key, resolution, who) => {
    if (!ledger) throw new NothingToResolveError('no database is configured: the ledger is off');
    const row = await ledger.resolve(key, resolution, who);
    if (!row) throw new NothingToResolveError(`no unknown delivery with key ${key}`);
    if (!(QUEUE_NAMES as readonly string[]).includes(row.queue)) return { replayed: false };
    const job = await queues.get(row.queue as QueueName).getJob(row.job_id);
    if (!job || (await job.getState()) !== 'failed') return { replayed: false };
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return { replayed: true };
  };
}
