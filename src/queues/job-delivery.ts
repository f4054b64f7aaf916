/**
 * One run's view of its email's ledger row. The claim is settled here, where both sides can be seen: the ledger
 * says which attempt holds a `sending` row, and Redis says whether that attempt still holds its job's lock. An
 * attempt whose lock is gone has died (or was cut short), so the row is taken over at once instead of after the
 * job's time limit: resent, marked `unknown` by the task's policy, or simply reclaimed when that run is known to
 * have claimed without sending.
 */
import type { Job } from 'bullmq';
import { reportOf, type JobReport } from '@email-workers/client/internal';
import {
  DeliveryBlockedError,
  DeliveryInProgressError,
  SuppressedError,
  UncertainDeliveryError,
} from '../errors.js';
import { deliveryRef, keyRef, maskEmailsIn, type Logger } from '../logger.js';
import type { DeliveryJob, ExpiryRecord, Ledger } from '../db/ledger/index.js';
import type { SentRecord } from '../email-types.js';
import type { Claim } from '../tasks/define-task.js';
import type { JobState } from './job-state.js';
import type { UnrecordedSends } from './unrecorded-sends.js';

export interface JobDeliveryDeps {
  ledger: Ledger | undefined;
  jobState: JobState;
  /** The token holding a job's lock now (null: nobody). */
  lockHolder(queue: string, jobId: string): Promise<string | null>;
  /** Sent emails the database could not record yet (undefined with the ledger off). */
  unrecorded: UnrecordedSends | undefined;
  /** How long a live attempt may still take: the wait before asking again. */
  lockDurationMs: number;
  log: Logger;
}

export interface JobDelivery {
  claim(recipient: string): Promise<Claim>;
  /** True while this run holds the row (claimed, not yet recorded). */
  readonly holding: boolean;
  /** Records the 250; never throws (the email is out: failing the job now would send it again). */
  sent(sent: SentRecord): Promise<void>;
  /**
   * Ends this run's claim without a send: the next attempt may claim at once (`bounced`: no attempt will, the
   * server refused the address). Never throws.
   */
  release(reason: string, status?: 'failed' | 'bounced'): Promise<void>;
  /** Records that the email was refused without a claim (a limit, the suppression list). Never throws. */
  refused(recipient: string, status: 'rate_limited' | 'suppressed', reason: string): Promise<void>;
  /** Records an expiry, unless the ledger shows the email already sent. */
  expired(recipient: string | undefined): Promise<ExpiryRecord>;
}

export function jobDelivery(job: Job, token: string, row: DeliveryJob, deps: JobDeliveryDeps): JobDelivery {
  const { ledger, jobState, log } = deps;
  let holding = false;
  // The ledger's status as this run last saw it, kept on the job for a caller asking later (getTaskStatus).
  const report = async (delivery: string) => {
    const update: JobReport = { ...reportOf(job), delivery };
    await job.updateProgress(update).catch(() => undefined);
  };

  const refused: JobDelivery['refused'] = async (recipient, status, reason) => {
    await ledger
      ?.markRefused(row, recipient, status, reason)
      .catch((error: Error) =>
        log.warn(
          { err: maskEmailsIn(error.message) },
          `not sent (${status}), and the ledger could not record it`,
        ),
      );
    await report(status);
  };

  const claim = async (recipient: string, tries = 0): Promise<Claim> => {
    if (!ledger) return { status: 'claimed' };
    const result = await ledger.claim(row, recipient, token);
    switch (result.status) {
      case 'claimed':
        holding = true;
        return result;
      case 'sent':
        await report('sent');
        return result;
      case 'unknown':
        await report('unknown');
        throw new UncertainDeliveryError(deliveryRef(row.key, row.jobId));
      case 'blocked':
        await report(result.state);
        throw new DeliveryBlockedError(deliveryRef(row.key, row.jobId), result.state);
      case 'suppressed': {
        const error = new SuppressedError(result.reason, result.expiresAt);
        await refused(recipient, 'suppressed', error.message);
        throw error;
      }
    }
    const { owner, leaseLeftMs } = result;
    const alive =
      leaseLeftMs > 0 &&
      owner.token !== null &&
      (await deps.lockHolder(owner.queue, owner.jobId)) === owner.token;
    if (alive || (leaseLeftMs > 0 && owner.token === null)) {
      // The holder usually finishes within a second: look again soon, not after its whole lease.
      throw new DeliveryInProgressError(
        deliveryRef(row.key, row.jobId),
        Math.min(leaseLeftMs, Math.max(250, deps.lockDurationMs / 10)),
      );
    }
    // The owner is gone. If it sent while the database was out, its record is waiting in Redis: write it now.
    const kept = await deps.unrecorded?.record(row.key);
    if (kept) {
      await report('sent');
      return { status: 'sent', messageId: kept.messageId, response: kept.response };
    }
    // It may have sent, unless it was an earlier run of this job that said it never did.
    const neverSent =
      owner.jobId === String(job.id) && owner.token !== null && (await jobState.isUnsent(job, owner.token));
    if (neverSent || row.uncertain === 'resend') {
      if (await ledger.takeOver(row, recipient, token, owner.token)) {
        holding = true;
        if (!neverSent)
          log.warn(
            { key: keyRef(row.key) },
            'delivery uncertain: an earlier attempt died while sending; sending again',
          );
        return { status: 'claimed' };
      }
      // The row changed in between (another run took it, or it was recorded): look again, a few times at most.
      if (tries < 3) return claim(recipient, tries + 1);
      throw new DeliveryInProgressError(deliveryRef(row.key, row.jobId), deps.lockDurationMs);
    }
    await ledger.markUnknown(row.key, owner.token);
    await report('unknown');
    throw new UncertainDeliveryError(deliveryRef(row.key, row.jobId));
  };

  return {
    claim: (recipient) => claim(recipient),
    get holding() {
      return holding;
    },
    async sent(sent) {
      holding = false;
      if (!ledger) return;
      try {
        if (!(await ledger.markSent(row.key, token, sent))) {
          log.warn(
            { key: keyRef(row.key) },
            'sent, but another attempt holds the ledger row now: not recorded by this one',
          );
        }
      } catch (error) {
        // The email is out: keep the record in Redis until the database answers (unrecorded-sends.ts).
        try {
          await deps.unrecorded?.keep(row.key, token, sent);
          log.warn(
            { key: keyRef(row.key), err: maskEmailsIn((error as Error).message) },
            'sent; the ledger is out, so the record waits in Redis until it is back',
          );
        } catch {
          // Redis is gone as well: the row stays 'sending', and the next attempt meets the uncertain-delivery policy.
          log.error(
            { err: maskEmailsIn((error as Error).message) },
            'sent, but neither the ledger nor Redis could record it',
          );
        }
      }
      // Recorded, or waiting in Redis to be: the email is out either way.
      await report('sent');
    },
    async release(reason, status = 'failed') {
      if (!ledger || !holding) return;
      holding = false;
      try {
        await ledger.markFailed(row.key, token, maskEmailsIn(reason), status);
        await report(status);
      } catch {
        // The database is gone too: say so where the next run will look, so it does not take this row for a send
        // that may have happened.
        await jobState.markUnsent(job, token).catch(() => undefined);
      }
    },
    refused,
    async expired(recipient) {
      if (!ledger) return { status: 'expired' };
      const record = await ledger.markExpired(row, recipient, 'expired');
      await report(record.status);
      return record;
    },
  };
}
