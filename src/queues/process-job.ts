/**
 * One run of a job, start to end: find its task, validate, check expiry, run the handler under a time limit, and
 * turn the outcome into BullMQ's terms. Retries are decided here, from the task's policy and the configuration,
 * not from whatever `attempts` a producer set: plain `queue.add(name, data)` producers get the same retries as
 * the client.
 *
 * Only a failure of the message itself uses up an attempt. An outage of a dependency, a wait for another attempt
 * holding the email, and a run cut short by a shutdown or a lost lock are turned back without charge (see
 * job-state.ts for why BullMQ's own counters cannot say this).
 */
import type { Job } from 'bullmq';
import type { Config } from '../config.js';
import type { Ledger } from '../db/ledger/index.js';
import type { OutgoingEmail, SentEmail } from '../email-types.js';
import {
  ExpiredError,
  JobTimeoutError,
  RateLimitedError,
  SmtpRejectedError,
  SmtpUnavailableError,
  UnknownTaskError,
  type Dependency,
} from '../errors.js';
import { maskEmailsIn, recipientHint, type Logger } from '../logger.js';
import { listUnsubscribeHeaders } from '../mail/list-unsubscribe.js';
import { isThrottling } from '../mail/smtp-errors.js';
import { messageIdFor, type SendOptions } from '../mail/transport.js';
import type { QueueName, TaskContext, TaskDefinition } from '../tasks/define-task.js';
import { decryptPayload, parsePayload } from '@email-workers/client/internal';
import { TASK_NAMES, findTask } from '../tasks/registry.js';
import type { Admission } from './admission.js';
import { resolveRetry } from './backoff.js';
import type { Breakers } from './breakers.js';
import type { CrashAt } from './crash-points.js';
import { deliveryKey } from './delivery-key.js';
import { jobDelivery, type JobDelivery } from './job-delivery.js';
import type { JobState } from './job-state.js';
import type { UnrecordedSends } from './unrecorded-sends.js';
import { later, returnToQueue, settle, type Outcome } from './job-outcome.js';
import type { WorkerMetrics } from './metrics.js';
import type { SendQuota } from './send-quota.js';

/** What a handler's context is built from, once per process. */
export interface Services extends Omit<TaskContext, 'job' | 'delivery' | 'send'> {
  send(email: OutgoingEmail, options?: SendOptions): Promise<SentEmail>;
  /** The primary relay's name (`primary`, or `outbox` in development), recorded with each email it sends. */
  relay?: string;
  /**
   * The fallback relay (SMTP_FALLBACK_HOST): critical tasks (CRITICAL_TASKS) send through it while the primary's
   * SMTP breaker is open, instead of waiting.
   */
  fallback?: { name: string; send: Services['send'] } | undefined;
}

export interface ProcessorDeps {
  config: Config;
  logger: Logger;
  services: Services;
  /** The delivery ledger; undefined when it is off (LEDGER_ENABLED=false or no database). */
  ledger: Ledger | undefined;
  breakers: Breakers;
  jobState: JobState;
  lockHolder(queue: string, jobId: string): Promise<string | null>;
  crashAt: CrashAt;
  /** Sent emails the database could not record yet; undefined with the ledger off. */
  unrecorded: UnrecordedSends | undefined;
  /** What every job of a task's queue needs: while one of them is out, its jobs go back at once. */
  dependenciesOf(queue: QueueName): readonly Dependency[];
  /** Counts each outcome for /metrics (issue 9). */
  metrics?: Pick<WorkerMetrics, 'jobOutcome' | 'relaySent'>;
  /** RECIPIENT_LIMITS, checked before each claim, and what a bounce does to the suppression list (issue 12). */
  admission?: Admission;
  /** EMAIL_RATE_LIMIT and the relay's backpressure, taken from before each claim (issue 12). */
  quota?: SendQuota;
}

export type Processor = (job: Job, token?: string) => Promise<unknown>;

export interface JobProcessor {
  process: Processor;
  /**
   * Gives up the runs that have not begun to transmit a message (all of them with `evenDuringData`): each
   * withdraws its message, releases its claim and goes back to the queue without charge. Returns how many.
   */
  cutShort(reason: string, options?: { jobIds?: readonly string[]; evenDuringData?: boolean }): number;
  /** From now on every run goes straight back to the queue (the process is stopping). */
  stopTakingJobs(): void;
  readonly inFlight: number;
}

/** Where a run is, for a timeout's message and to know which dependency it was waiting on. */
interface Phase {
  name: string;
  dependency: Dependency | undefined;
}

/** One run in flight. */
interface Run {
  jobId: string;
  controller: AbortController;
  phase: Phase;
  claimStarted: boolean;
  claimResolved: boolean;
  /**
   * The envelope was written, with PIPELINING the DATA command in it: a server reads that command even after the
   * connection is closed, so from here the run is no longer withdrawn but waits for the server's replies.
   */
  envelopeSent: boolean;
  /** The server said 354 and the message started to go out: from here it may have arrived. */
  dataStarted: boolean;
  /** The server said 250: the run finishes whatever its time limit. */
  accepted: boolean;
  /** The server refused the address itself: the ledger says `bounced`, not `failed`. */
  bounced: boolean;
}

/** The reason a run was given up by the process rather than by its own failure. */
class CutShort extends Error {}

/** A claim older than the job's own limit plus this belongs to an attempt that died (a backstop to the lock). */
const LEASE_MARGIN_MS = 5_000;

/** How soon a recovered job that found another recovered run in progress looks again. */
const RECOVERED_RETRY_MS = 1_000;

export function createProcessor(deps: ProcessorDeps): JobProcessor {
  const { config, logger, services, breakers, jobState } = deps;
  const runs = new Set<Run>();
  let stopping = false;
  // A job recovered after its worker crashed twice may be the cause. Such runs go one at a time in a process, so a
  // job that crashes its worker every time takes at most two crashes' worth of innocent neighbours down with it,
  // never the same ones again and again until they too fail for stalling (MAX_STALLED_COUNT, 3). One crash alone
  // (a kill, a deploy) recovers every job at full speed.
  let recoveredRunning = false;

  const process: Processor = async (job, token = '') => {
    const started = performance.now();
    const data = (job.data ?? {}) as Record<string, unknown>;
    // Read before validation, so bounded here: a producer's oversized id must not land in every log line.
    const correlationId =
      typeof data.correlation_id === 'string' ? data.correlation_id.slice(0, 200) : undefined;
    // Ids, names and correlation ids are the producer's text: an address in them is masked like any other.
    const log = logger.child({
      jobId: job.id && maskEmailsIn(job.id),
      task: maskEmailsIn(job.name),
      queue: job.queueName,
      run: job.attemptsStarted,
      correlationId: correlationId && maskEmailsIn(correlationId),
    });
    const outcome: Outcome = (level, fields) => {
      const durationMs = performance.now() - started;
      log[level]({ durationMs: Math.round(durationMs), to: recipientHint(data), ...fields });
      deps.metrics?.jobOutcome(task?.name ?? 'unknown', String(fields.outcome), durationMs); // issue 9
    };
    const turnBack = (reason: string, delayMs: number, dependency?: Dependency) =>
      later(job, token, { reason, delayMs, charged: false, dependency }, outcome);

    const task = findTask(job.name);
    if (stopping) return returnToQueue(job, token, 'the worker is stopping', outcome);
    // A critical task does not wait for the primary relay while a fallback can take it.
    const mayFallBack = Boolean(task && services.fallback && config.criticalTasks.includes(task.name));
    const open =
      task &&
      deps.dependenciesOf(task.queue).find((d) => breakers.isOpen(d) && !(d === 'smtp' && mayFallBack));
    if (open) return turnBack(`${open} breaker open`, config.breaker.probeIntervalMs, open);
    const recovered = job.stalledCounter >= 2;
    if (recovered && recoveredRunning) {
      return turnBack(
        'recovered after its worker crashed twice: such runs go one at a time',
        RECOVERED_RETRY_MS,
      );
    }
    if (recovered) recoveredRunning = true;

    const run: Run = {
      jobId: String(job.id),
      controller: new AbortController(),
      phase: { name: 'starting', dependency: undefined },
      claimStarted: false,
      claimResolved: false,
      envelopeSent: false,
      dataStarted: false,
      accepted: false,
      bounced: false,
    };
    const enter = (name: string, dependency: Dependency | undefined) => (run.phase = { name, dependency });
    runs.add(run);
    let delivery: JobDelivery | undefined;
    try {
      if (!task) throw new UnknownTaskError(job.name, TASK_NAMES);
      // Encrypted fields (the OTP code) are clear only in this run's memory, from here to the send.
      const payload = parsePayload(task, decryptPayload(task.name, data, config.encryption.keys));
      const key = deliveryKey(task.name, job, config.redis.prefix);
      delivery = jobDelivery(
        job,
        token,
        {
          key,
          jobId: String(job.id),
          queue: job.queueName,
          task: task.name,
          correlationId,
          leaseMs: config.worker.jobTimeoutMs + LEASE_MARGIN_MS,
          uncertain: config.ledger.uncertainDelivery[task.name] ?? task.uncertainDelivery ?? 'resend',
        },
        { ...deps, lockDurationMs: config.worker.lockDurationMs, log },
      );
      const enqueuedAt = new Date(job.timestamp);
      const expiredAt = expiry(task, payload, enqueuedAt, services.now());
      if (expiredAt) {
        enter('recording an expiry', 'database');
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
      const jobDeliveryHandle = delivery;
      // The same on every attempt and for every copy of this email, so the copies can be recognised.
      const messageId = messageIdFor(key, config.mail.fromAddress);
      // RFC 8058 one-click unsubscribe, on the tasks a deployment marks as subscribed mail.
      const unsubscribe = config.deliverability.unsubscribe;
      const subscribed = unsubscribe?.tasks.includes(task.name) ? unsubscribe : undefined;
      const ctx: TaskContext = {
        ...services,
        job: {
          id: String(job.id),
          name: job.name,
          queue: job.queueName,
          attempt: job.attemptsStarted,
          enqueuedAt,
        },
        findRecipient: async (userId) => {
          enter('looking up the recipient', 'database');
          const recipient = await services.findRecipient(userId);
          // With the ledger on, its own statements say whether the database works for us (its schema may be gone
          // while the users table answers).
          if (!deps.ledger) breakers.success('database');
          return recipient;
        },
        delivery: {
          key,
          claim: async (recipient) => {
            enter('checking the recipient limits', 'redis');
            try {
              await deps.admission?.admit(task.name, recipient, key);
            } catch (error) {
              if (error instanceof RateLimitedError) {
                await jobDeliveryHandle.refused(recipient, 'rate_limited', error.message);
              }
              throw error;
            }
            enter('waiting for the send quota', undefined);
            await deps.quota?.take(run.controller.signal);
            enter('claiming the delivery', 'database');
            run.claimStarted = true;
            const claim = await jobDeliveryHandle.claim(recipient);
            run.claimResolved = true;
            breakers.success('database');
            return claim;
          },
          sent: async (sent) => {
            enter('recording the delivery', 'database');
            await jobDeliveryHandle.sent(sent);
            deps.crashAt('after-sent-record', run.jobId);
          },
        },
        send: async (email) => {
          // A run that gave up must not start a send: the handler may still be running behind its timeout.
          run.controller.signal.throwIfAborted();
          deps.crashAt('before-send', run.jobId);
          enter('waiting for an SMTP connection', 'smtp');
          // Decided per send: the primary's breaker may have closed again since the run began.
          const fallback = mayFallBack && breakers.isOpen('smtp') ? services.fallback : undefined;
          const relay = fallback?.name ?? services.relay;
          const sent = await (fallback?.send ?? services.send)(
            {
              ...email,
              messageId,
              headers: subscribed && { ...email.headers, ...listUnsubscribeHeaders(subscribed, email.to) },
            },
            {
              signal: run.controller.signal,
              onEnvelope: () => {
                run.envelopeSent = true;
                enter('sending the envelope', 'smtp');
              },
              onData: () => {
                run.dataStarted = true;
                enter('transmitting the message', 'smtp');
              },
              beforeDataEnd: () => deps.crashAt('before-data-end', run.jobId),
            },
          ).catch((error: unknown) => afterRefusal(error, email.to));
          run.accepted = true;
          // The fallback answering says nothing about the primary: only the primary closes its breaker.
          if (!fallback) breakers.success('smtp');
          if (relay) deps.metrics?.relaySent(relay);
          deps.crashAt('after-250', run.jobId);
          return relay ? { ...sent, relay } : sent;
        },
      };
      // What a refusal tells the whole service: a bounced address is suppressed, a throttle slows every sender.
      const afterRefusal = async (error: unknown, to: string): Promise<never> => {
        if (error instanceof SmtpRejectedError && error.recipientRefused) {
          run.bounced = true;
          const suppressed = await deps.admission
            ?.bounced(to, maskEmailsIn(error.message))
            .catch((failure: Error) => void log.error({ err: failure.message }, 'could not suppress'));
          if (suppressed) log.warn({ to: recipientHint({ email: to }) }, 'address bounced: suppressed');
        } else if (error instanceof SmtpUnavailableError && isThrottling(error.cause)) {
          const factor = await deps.quota?.slowDown().catch(() => undefined);
          if (factor !== undefined) log.warn({ factor }, 'the relay throttles: every sender slows down');
        }
        throw error;
      };
      const result = await withTimeout(
        task.handle(payload, ctx),
        run,
        config.worker.jobTimeoutMs,
        config.smtp.socketTimeoutMs,
      );
      const skipped = (result as { duplicate?: boolean } | undefined)?.duplicate === true;
      outcome('info', {
        outcome: task.queue === 'system' ? 'completed' : skipped ? 'skipped' : 'sent',
        ...smtpReply(result),
      });
      return result;
    } catch (error) {
      // A run given up by its timer or by the process fails with that reason, whatever the handler threw since.
      const reason: unknown = run.controller.signal.aborted ? run.controller.signal.reason : error;
      const failure = reason instanceof Error ? reason : new Error(String(reason));
      await endClaim(run, delivery, failure, jobState, job, token, log);
      if (failure instanceof CutShort) return returnToQueue(job, token, failure.message, outcome);
      return settle(job, token, failure, resolveRetry(config.retry, task?.retry), deps, outcome);
    } finally {
      runs.delete(run);
      if (recovered) recoveredRunning = false;
    }
  };

  return {
    process,
    cutShort(reason, { jobIds, evenDuringData = false } = {}) {
      let count = 0;
      for (const run of runs) {
        // A run in DATA has sent its envelope first (the transport's hooks come in that order).
        if (run.accepted || (run.envelopeSent && !evenDuringData)) continue;
        if (jobIds && !jobIds.includes(run.jobId)) continue;
        if (run.controller.signal.aborted) continue;
        run.controller.abort(new CutShort(reason));
        count++;
      }
      return count;
    },
    stopTakingJobs() {
      stopping = true;
    },
    get inFlight() {
      return runs.size;
    },
  };
}

/**
 * What becomes of this run's claim when it fails: released at once when nothing can have gone out; left
 * `sending` (for the next attempt to judge by the task's policy) when the message may have arrived.
 */
async function endClaim(
  run: Run,
  delivery: JobDelivery | undefined,
  failure: Error,
  jobState: JobState,
  job: Job,
  token: string,
  log: Logger,
): Promise<void> {
  if (!delivery || !run.claimStarted) return;
  if (!run.claimResolved) {
    // The claim may still commit after this run gave up on it: say where the next run will look that this one
    // never sent, so that it is not taken for a send that may have happened.
    await jobState.markUnsent(job, token).catch(() => undefined);
    return;
  }
  const definiteReply =
    failure instanceof SmtpRejectedError ||
    (failure instanceof SmtpUnavailableError && !failure.mayHaveBeenSent);
  if (run.dataStarted && !run.accepted && !definiteReply) {
    log.warn(
      { err: maskEmailsIn(failure.message) },
      'delivery uncertain: the attempt ended during DATA without the server\u2019s reply',
    );
    return;
  }
  await delivery.release(failure.message, run.bounced ? 'bounced' : 'failed');
}

/** The passed deadline, if the job is past its task's expiry or its payload's `expires_at`. */
export function expiry(
  task: TaskDefinition,
  payload: unknown,
  enqueuedAt: Date,
  now: Date,
): Date | undefined {
  const deadlines = [task.expiresAt?.(payload as never, enqueuedAt)];
  const expiresAt = (payload as { expires_at?: string }).expires_at;
  if (expiresAt) deadlines.push(new Date(expiresAt));
  return deadlines.find((deadline) => deadline && deadline.getTime() <= now.getTime());
}

/**
 * Gives the run up after `timeoutMs` — its message withdrawn while it waits for a pooled connection — unless the
 * server has accepted it: then it runs to its end, since abandoning it would turn a late ledger write into a retry
 * and a second email. A message whose envelope is written gets until its reply or the SMTP socket timeout
 * (`transmitGraceMs`) first: with PIPELINING the envelope carries DATA, which the server reads even from a
 * connection closed behind it, and once the message is going out, cutting it would not stop the server from
 * accepting what it has; it would only make the outcome unknown and the retry a second copy.
 */
function withTimeout<T>(work: Promise<T>, run: Run, timeoutMs: number, transmitGraceMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const giveUp = () =>
    run.controller.abort(new JobTimeoutError(timeoutMs, run.phase.dependency, run.phase.name));
  const aborted = new Promise<never>((_, reject) => {
    run.controller.signal.addEventListener('abort', () => reject(run.controller.signal.reason), {
      once: true,
    });
    timer = setTimeout(() => {
      if (run.accepted) return;
      if (run.envelopeSent) timer = setTimeout(() => run.accepted || giveUp(), transmitGraceMs);
      else giveUp();
    }, timeoutMs);
  });
  // A run given up leaves its handler behind: whatever that still throws is already accounted for.
  work.catch(() => undefined);
  return Promise.race([work, aborted]).finally(() => clearTimeout(timer));
}

/** The masked address, or the user id: enough to find the job again, never the address itself. */
function smtpReply(result: unknown): Record<string, unknown> {
  const r = result as { message_id?: string; smtp_response?: string } | undefined;
  return r?.message_id ? { messageId: r.message_id, smtpResponse: r.smtp_response } : {};
}
