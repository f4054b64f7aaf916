/**
 * One job, start to end: find its task, validate, check expiry, run the handler under a time limit, and turn the
 * outcome into BullMQ's terms. Retries are decided here, from the task's policy and the configuration, not from
 * whatever `attempts` a producer set: plain `queue.add(name, data)` producers get the same retries as the client.
 */
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Config } from '../config.js';
import {
  ExpiredError,
  JobTimeoutError,
  PermanentError,
  RetriesExhaustedError,
  UnknownTaskError,
} from '../errors.js';
import { maskEmail, maskEmailsIn, type Logger } from '../logger.js';
import { messageIdFor } from '../mail/transport.js';
import type { TaskContext, TaskDefinition } from '../tasks/define-task.js';
import { parsePayload } from '../tasks/parse-payload.js';
import { TASK_NAMES, findTask } from '../tasks/registry.js';
import { resolveRetry, retryDelayMs } from './backoff.js';

export type Services = Omit<TaskContext, 'job'>;

export interface ProcessorDeps {
  config: Config;
  logger: Logger;
  services: Services;
}

export type Processor = (job: Job, token?: string) => Promise<unknown>;

export function createProcessor({ config, logger, services }: ProcessorDeps): Processor {
  return async (job, token) => {
    const started = performance.now();
    const attempt = Math.max(1, job.attemptsStarted);
    const data = (job.data ?? {}) as Record<string, unknown>;
    const log = logger.child({
      jobId: job.id,
      task: job.name,
      queue: job.queueName,
      attempt,
      correlationId: typeof data.correlation_id === 'string' ? data.correlation_id : undefined,
    });
    const outcome = (level: 'info' | 'warn' | 'error', fields: Record<string, unknown>) =>
      log[level]({ durationMs: Math.round(performance.now() - started), to: recipientHint(data), ...fields });

    let task: TaskDefinition | undefined;
    try {
      task = findTask(job.name);
      if (!task) throw new UnknownTaskError(job.name, TASK_NAMES);
      const payload = parsePayload(task, data);
      const enqueuedAt = new Date(job.timestamp);
      checkExpiry(task, payload, enqueuedAt, services.now());
      // Same on every attempt of this job, different for any other job (ids restart after a Redis flush).
      const messageId = messageIdFor(
        `${config.redis.prefix}/${job.queueName}/${job.id}/${job.timestamp}`,
        config.mail.fromAddress,
      );
      const ctx: TaskContext = {
        ...services,
        job: { id: String(job.id), name: job.name, queue: job.queueName, attempt, enqueuedAt },
        send: (email) => services.send({ ...email, messageId }),
      };
      const result = await withTimeout(task.handle(payload, ctx), config.worker.jobTimeoutMs);
      outcome('info', { outcome: task.queue === 'system' ? 'completed' : 'sent', ...smtpReply(result) });
      return result;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      const retry = resolveRetry(config.retry, task?.retry);
      if (failure instanceof PermanentError || attempt >= retry.attempts) {
        const final =
          failure instanceof PermanentError ? failure : new RetriesExhaustedError(attempt, failure);
        outcome('error', {
          outcome: final instanceof ExpiredError ? 'expired' : 'failed',
          err: errorFields(final),
        });
        await job.log(`attempt ${attempt}: ${final.message}`).catch(() => undefined);
        const unrecoverable = new UnrecoverableError(final.message);
        unrecoverable.stack = final.stack;
        throw unrecoverable;
      }
      const delayMs = retryDelayMs(retry, attempt);
      outcome('warn', { outcome: 'retry', retryInMs: delayMs, err: errorFields(failure) });
      // The job's log is its error history: BullMQ records a stack trace only for the final failure here.
      await job.log(`attempt ${attempt}: ${failure.message} (retry in ${delayMs} ms)`);
      await job.moveToDelayed(Date.now() + delayMs, token);
      throw new DelayedError();
    }
  };
}

function checkExpiry(task: TaskDefinition, payload: unknown, enqueuedAt: Date, now: Date): void {
  const deadlines = [task.expiresAt?.(payload as never, enqueuedAt)];
  const expiresAt = (payload as { expires_at?: string }).expires_at;
  if (expiresAt) deadlines.push(new Date(expiresAt));
  for (const deadline of deadlines) {
    if (deadline && deadline.getTime() <= now.getTime()) throw new ExpiredError(deadline);
  }
}

function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new JobTimeoutError(timeoutMs)), timeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** The masked address, or the user id: enough to find the job again, never the address itself. */
export function recipientHint(data: Record<string, unknown>): string | undefined {
  if (typeof data.email === 'string') return maskEmail(data.email);
  if (typeof data.user_id === 'string' || typeof data.user_id === 'number') return `user:${data.user_id}`;
  return undefined;
}

function smtpReply(result: unknown): Record<string, unknown> {
  const r = result as { message_id?: string; smtp_response?: string } | undefined;
  return r?.message_id ? { messageId: r.message_id, smtpResponse: r.smtp_response } : {};
}

// SMTP replies often quote the recipient ("550 <jane@example.com>: no such user"): mask it like the rest.
function errorFields(error: Error): Record<string, unknown> {
  return { type: error.name, code: (error as { code?: string }).code, message: maskEmailsIn(error.message) };
}
