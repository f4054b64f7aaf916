/**
 * One job, start to end: find its task, validate, check expiry, run the handler under a time limit, and turn the
 * outcome into BullMQ's terms. Retries are decided here, from the task's policy and the configuration, not from
 * whatever `attempts` a producer set: plain `queue.add(name, data)` producers get the same retries as the client.
 */
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Config } from '../config.js';
import {
  DeliveryInProgressError,
  ExpiredError,
  JobTimeoutError,
  PermanentError,
  RetriesExhaustedError,
  SmtpUnavailableError,
  UnknownTaskError,
} from '../errors.js';
import { maskEmailsIn, recipientHint, type Logger } from '../logger.js';
import { messageIdFor } from '../mail/transport.js';
import type { DeliveryJob, ExpiryRecord, Ledger } from '../db/deliveries.js';
import type { DeliveryRecord, TaskContext, TaskDefinition } from '../tasks/define-task.js';
import { parsePayload } from '../tasks/parse-payload.js';
import { TASK_NAMES, findTask } from '../tasks/registry.js';
import { resolveRetry, retryDelayMs, type ResolvedRetry } from './backoff.js';
import { deliveryKey } from './delivery-key.js';

export type Services = Omit<TaskContext, 'job' | 'delivery'>;

export interface ProcessorDeps {
  config: Config;
  logger: Logger;
  services: Services;
  /** The delivery ledger; undefined when it is off (LEDGER_ENABLED=false or no database). */
  ledger: Ledger | undefined;
}

export type Processor = (job: Job, token?: string) => Promise<unknown>;

export function createProcessor({ config, logger, services, ledger }: ProcessorDeps): Processor {
  return async (job, token) => {
    const started = performance.now();
    const attempt = Math.max(1, job.attemptsStarted);
    const data = (job.data ?? {}) as Record<string, unknown>;
    // Read before validation, so bounded here: a producer's oversized id must not land in every log line.
    const correlationId =
      typeof data.correlation_id === 'string' ? data.correlation_id.slice(0, 200) : undefined;
    const log = logger.child({ jobId: job.id, task: job.name, queue: job.queueName, attempt, correlationId });
    const outcome: Outcome = (level, fields) =>
      log[level]({ durationMs: Math.round(performance.now() - started), to: recipientHint(data), ...fields });

    let task: TaskDefinition | undefined;
    let delivery: JobDelivery | undefined;
    try {
      task = findTask(job.name);
      if (!task) throw new UnknownTaskError(job.name, TASK_NAMES);
      const payload = parsePayload(task, data);
      const key = deliveryKey(task.name, job, config.redis.prefix);
      delivery = jobDelivery(
        ledger,
        {
          key,
          jobId: String(job.id),
          queue: job.queueName,
          task: task.name,
          correlationId,
          leaseMs: config.worker.jobTimeoutMs + LEASE_MARGIN_MS,
          uncertain: config.ledger.uncertainDelivery[task.name] ?? task.uncertainDelivery ?? 'resend',
        },
        log,
      );
      const enqueuedAt = new Date(job.timestamp);
      const expiredAt = expiry(task, payload, enqueuedAt, services.now());
      if (expiredAt) {
        // A run after a crash may find the email sent before the deadline: that is a duplicate, not an expiry.
        const earlier = await delivery.expired(typeof data.email === 'string' ? data.email : undefined);
        if (earlier.status === 'sent') {
          outcome('info', { outcome: 'skipped', messageId: earlier.messageId });
          return {
            success: true,
            duplicate: true,
            email: data.email,
            message_id: earlier.messageId,
            smtp_response: earlier.response,
            timestamp: services.now().toISOString(),
          };
        }
        throw new ExpiredError(expiredAt);
      }
      // The same on every attempt and for every copy of this email, so the copies can be recognised.
      const messageId = messageIdFor(key, config.mail.fromAddress);
      const ctx: TaskContext = {
        ...services,
        job: { id: String(job.id), name: job.name, queue: job.queueName, attempt, enqueuedAt },
        delivery: delivery.record,
        send: (email) => services.send({ ...email, messageId }),
      };
      // Once the server has said 250, the attempt runs to its end: abandoning it would turn a late ledger write
      // into a retry, and a second email.
      const result = await withTimeout(
        task.handle(payload, ctx),
        config.worker.jobTimeoutMs,
        () => !delivery!.accepted,
      );
      const skipped = (result as { duplicate?: boolean } | undefined)?.duplicate === true;
      outcome('info', {
        outcome: task.queue === 'system' ? 'completed' : skipped ? 'skipped' : 'sent',
        ...smtpReply(result),
      });
      return result;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      await delivery?.failed(failure);
      return retryOrFail(job, token, attempt, failure, resolveRetry(config.retry, task?.retry), outcome);
    }
  };
}

type Outcome = (level: 'info' | 'warn' | 'error', fields: Record<string, unknown>) => void;

/** Turns a failed attempt into BullMQ's terms: a delayed retry, or a failure for good. Always throws. */
async function retryOrFail(
  job: Job,
  token: string | undefined,
  attempt: number,
  failure: Error,
  retry: ResolvedRetry,
  outcome: Outcome,
): Promise<never> {
  // Waiting for another attempt's lease is not a failure of this one: it resolves when that attempt ends.
  const exhausted = attempt >= retry.attempts && !(failure instanceof DeliveryInProgressError);
  if (failure instanceof PermanentError || exhausted) {
    const final = failure instanceof PermanentError ? failure : new RetriesExhaustedError(attempt, failure);
    outcome('error', {
      outcome: final instanceof ExpiredError ? 'expired' : 'failed',
      err: errorFields(final),
    });
    // Failed reasons, stack traces and job logs are shown by monitors: addresses in them are masked as in logs.
    await job.log(`attempt ${attempt}: ${maskEmailsIn(final.message)}`).catch(() => undefined);
    const unrecoverable = new UnrecoverableError(maskEmailsIn(final.message));
    unrecoverable.stack = maskEmailsIn(final.stack ?? '');
    throw unrecoverable;
  }
  const delayMs = Math.max(
    retryDelayMs(retry, attempt),
    failure instanceof DeliveryInProgressError ? failure.retryAfterMs : 0,
  );
  outcome('warn', { outcome: 'retry', retryInMs: delayMs, err: errorFields(failure) });
  // The job's log is its error history: BullMQ records a stack trace only for the final failure here.
  await job.log(`attempt ${attempt}: ${maskEmailsIn(failure.message)} (retry in ${delayMs} ms)`);
  await job.moveToDelayed(Date.now() + delayMs, token);
  throw new DelayedError();
}

/** Past the job's own timeout, plus this: a claim older than that belongs to an attempt that died. */
const LEASE_MARGIN_MS = 5_000;

interface JobDelivery {
  record: DeliveryRecord;
  /** True once the SMTP server accepted the message in this attempt. */
  readonly accepted: boolean;
  /** Records an expiry, unless the ledger shows the email already sent. */
  expired(recipient: string | undefined): Promise<ExpiryRecord>;
  /** Records how this attempt ended, if it held the claim; never throws. */
  failed(error: Error): Promise<void>;
}

function jobDelivery(ledger: Ledger | undefined, job: DeliveryJob, log: Logger): JobDelivery {
  let holding = false;
  let accepted = false;
  const record: DeliveryRecord = {
    key: job.key,
    async claim(recipient) {
      if (!ledger) return { status: 'claimed' };
      const claim = await ledger.claim(job, recipient);
      holding = claim.status === 'claimed';
      return claim;
    },
    async sent(sent) {
      accepted = true;
      holding = false;
      try {
        await ledger?.markSent(job.key, sent);
      } catch (error) {
        // The email is out; failing the job now would send it again. The row stays 'sending' and a later
        // attempt with this key meets the uncertain-delivery policy.
        log.error(
          { err: maskEmailsIn((error as Error).message) },
          'sent, but the ledger could not record it',
        );
      }
    },
  };
  return {
    record,
    get accepted() {
      return accepted;
    },
    async expired(recipient) {
      return ledger ? ledger.markExpired(job, recipient, 'expired') : { status: 'expired' };
    },
    async failed(error) {
      if (!ledger || !holding) return;
      holding = false;
      if (
        error instanceof JobTimeoutError ||
        (error instanceof SmtpUnavailableError && error.mayHaveBeenSent)
      ) {
        // The server may have the message: the row stays 'sending' until its lease ends, and the next attempt
        // follows the task's uncertain-delivery policy instead of sending again at once.
        log.warn(
          { key: job.key },
          'delivery uncertain: the attempt ended without a reply from the SMTP server',
        );
        return;
      }
      try {
        await ledger.markFailed(job.key, maskEmailsIn(error.message));
      } catch (recordError) {
        log.warn(
          { err: maskEmailsIn((recordError as Error).message) },
          'could not record the failure in the ledger',
        );
      }
    },
  };
}

/** The passed deadline, if the job is past its task's expiry or its payload's `expires_at`. */
function expiry(task: TaskDefinition, payload: unknown, enqueuedAt: Date, now: Date): Date | undefined {
  const deadlines = [task.expiresAt?.(payload as never, enqueuedAt)];
  const expiresAt = (payload as { expires_at?: string }).expires_at;
  if (expiresAt) deadlines.push(new Date(expiresAt));
  return deadlines.find((deadline) => deadline && deadline.getTime() <= now.getTime());
}

/** Fails the attempt after `timeoutMs`, unless `abandonable()` says it must run to its end. */
function withTimeout<T>(work: Promise<T>, timeoutMs: number, abandonable: () => boolean): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      if (abandonable()) reject(new JobTimeoutError(timeoutMs));
    }, timeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** The masked address, or the user id: enough to find the job again, never the address itself. */
function smtpReply(result: unknown): Record<string, unknown> {
  const r = result as { message_id?: string; smtp_response?: string } | undefined;
  return r?.message_id ? { messageId: r.message_id, smtpResponse: r.smtp_response } : {};
}

// SMTP replies often quote the recipient ("550 <jane@example.com>: no such user"): mask it like the rest.
function errorFields(error: Error): Record<string, unknown> {
  return { type: error.name, code: (error as { code?: string }).code, message: maskEmailsIn(error.message) };
}
