/**
 * How a run ends when it does not deliver, in BullMQ's terms: failed for good, or back in the queue — delayed and
 * charged an attempt (a failure of the message), delayed without charge (an outage, a wait for another attempt),
 * or at once without charge (given up by the process). The job's log is its history: one line per run that did
 * not deliver.
 */
import { DelayedError, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Config } from '../config.js';
import {
  DeliveryInProgressError,
  ExpiredError,
  OutageTooLongError,
  PermanentError,
  QuotaExceededError,
  RateLimitedError,
  RetriesExhaustedError,
  SmtpRejectedError,
  SuppressedError,
  TransientError,
  type Dependency,
} from '../errors.js';
import { reportOf, type JobReport } from '@email-workers/client/internal';
import { maskEmailsIn } from '../logger.js';
import { retryDelayMs, type ResolvedRetry } from './backoff.js';
import type { Breakers } from './breakers.js';
import type { JobState } from './job-state.js';

/** Writes the run's one outcome line. */
export type Outcome = (level: 'info' | 'warn' | 'error', fields: Record<string, unknown>) => void;

export interface SettleDeps {
  config: Config;
  breakers: Breakers;
  jobState: JobState;
}

/** Turns a failed run into BullMQ's terms: a delayed retry (charged or not), or a failure for good. */
export async function settle(
  job: Job,
  token: string,
  failure: Error,
  retry: ResolvedRetry,
  deps: SettleDeps,
  outcome: Outcome,
): Promise<never> {
  const { config, breakers, jobState } = deps;
  if (failure instanceof PermanentError) return fail(job, failure, jobState, outcome);
  if (failure instanceof DeliveryInProgressError) {
    const reason = maskEmailsIn(failure.message);
    return later(job, token, { reason, delayMs: failure.retryAfterMs, charged: false }, outcome);
  }
  if (failure instanceof QuotaExceededError) {
    return later(
      job,
      token,
      { reason: failure.message, delayMs: failure.retryAfterMs, charged: false },
      outcome,
    );
  }
  const dependency = failure instanceof TransientError ? failure.dependency : undefined;
  if (dependency) {
    breakers.failure(dependency, failure);
    const now = Date.now();
    const since = await jobState.outageSince(job, now).catch(() => now);
    if (now - since >= config.breaker.maxOutageS * 1000) {
      return fail(
        job,
        new OutageTooLongError(dependency, config.breaker.maxOutageS, failure),
        jobState,
        outcome,
      );
    }
    // An outage is the breaker's to time: a job turned back waits at most one probe interval, never the
    // minutes an exponential backoff over its many uncharged runs would reach.
    const delayMs = breakers.isOpen(dependency)
      ? config.breaker.probeIntervalMs
      : Math.min(retryDelayMs(retry, Math.max(1, job.attemptsStarted)), config.breaker.probeIntervalMs);
    return later(
      job,
      token,
      { reason: maskEmailsIn(failure.message), delayMs, charged: false, dependency },
      outcome,
      failure,
    );
  }
  const attempt = await jobState.charge(job);
  if (attempt >= retry.attempts)
    return fail(job, new RetriesExhaustedError(attempt, failure), jobState, outcome);
  const delayMs = retryDelayMs(retry, attempt);
  return later(
    job,
    token,
    { reason: maskEmailsIn(failure.message), delayMs, charged: true, attempt },
    outcome,
    failure,
  );
}

async function fail(job: Job, failure: PermanentError, jobState: JobState, outcome: Outcome): Promise<never> {
  outcome('error', {
    outcome: failureOutcome(failure),
    err: errorFields(failure),
  });
  // Failed reasons, stack traces and job logs are shown by monitors: addresses in them are masked as in logs.
  // The code is read back from here by the dead-letter listener (failureCode): BullMQ keeps only the message.
  await job.log(`failed (${failure.code}): ${maskEmailsIn(failure.message)}`).catch(() => undefined);
  // What a caller waiting on the job (enqueueAndWait, getTaskStatus) reads besides the failed reason.
  const report: JobReport = { ...reportOf(job), code: failure.code };
  await job.updateProgress(report).catch(() => undefined);
  // A person who retries a dead letter gives it a fresh budget.
  await jobState.reset(job).catch(() => undefined);
  const unrecoverable = new UnrecoverableError(maskEmailsIn(failure.message));
  unrecoverable.stack = maskEmailsIn(failure.stack ?? '');
  throw unrecoverable;
}

/** How a job that fails for good is counted: the deliverability refusals apart from other failures. */
function failureOutcome(failure: PermanentError): string {
  if (failure instanceof ExpiredError) return 'expired';
  if (failure instanceof RateLimitedError) return 'rate_limited';
  if (failure instanceof SuppressedError) return 'suppressed';
  if (failure instanceof SmtpRejectedError && failure.recipientRefused) return 'bounced';
  return 'failed';
}

interface Later {
  reason: string;
  delayMs: number;
  charged: boolean;
  attempt?: number;
  dependency?: Dependency | undefined;
}

/** Puts the job back as delayed. The job's log is its error history: one line per failed run. */
export async function later(
  job: Job,
  token: string,
  turn: Later,
  outcome: Outcome,
  failure?: Error,
): Promise<never> {
  const { reason, charged, attempt, dependency } = turn;
  const delayMs = Math.max(0, Math.round(turn.delayMs));
  outcome('warn', {
    outcome: 'retry',
    retryInMs: delayMs,
    charged,
    ...(attempt !== undefined ? { attempt } : {}),
    ...(dependency ? { dependency } : {}),
    ...(failure ? { err: errorFields(failure) } : { reason }),
  });
  const line = charged
    ? `attempt ${attempt}: ${reason} (retry in ${delayMs} ms)`
    : `run ${job.attemptsStarted}: ${reason} (not charged${dependency ? `: ${dependency} outage` : ''}; retry in ${delayMs} ms)`;
  try {
    await job.log(line);
    await job.moveToDelayed(Date.now() + delayMs, token);
  } catch {
    // Redis is gone too: the job keeps its lock until it expires, then BullMQ's stalled check returns it to the
    // queue. Either way it is not failed here.
  }
  throw new DelayedError();
}

/** Back to the wait list at once, without charge: the run was given up by the process, not by its email. */
export async function returnToQueue(
  job: Job,
  token: string,
  reason: string,
  outcome: Outcome,
): Promise<never> {
  outcome('info', { outcome: 'returned', reason });
  await job.moveToWait(token).catch(() => undefined);
  throw new WaitingError();
}

// SMTP replies often quote the recipient ("550 <jane@example.com>: no such user"): mask it like the rest.
function errorFields(error: Error): Record<string, unknown> {
  return { type: error.name, code: (error as { code?: string }).code, message: maskEmailsIn(error.message) };
}
