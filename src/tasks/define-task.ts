/**
 * The task contract: what a task is, and what its handler may use. Pure types and zod; no BullMQ, nodemailer or
 * pg, so producers and tests can import every task definition on its own.
 */
import type { z } from 'zod';
import type { OutgoingEmail, Recipient, RenderedEmail, SentEmail, SentRecord } from '../email-types.js';

export const QUEUE_NAMES = ['auth_emails', 'booking_emails', 'waitlist_emails', 'system'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Retry policy in BullMQ's own terms; unset fields fall back to MAX_RETRIES, RETRY_DELAY, RETRY_DELAY_MAX. */
export interface RetryPolicy {
  /** Total attempts, the first included (MAX_RETRIES + 1 by default). */
  attempts?: number;
  backoff?: {
    type: 'exponential';
    /** First retry delay in ms (RETRY_DELAY). */
    delay?: number;
    /** Longest delay in ms (RETRY_DELAY_MAX). */
    maxDelay?: number;
    /** Fraction of each delay that is random, 0–1 (0.5 by default), so retries after an outage spread out. */
    jitter?: number;
  };
}

export interface JobInfo {
  id: string;
  /** The task name as the producer sent it (maybe the old qualified name). */
  name: string;
  queue: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** When the producer enqueued the job; expiry counts from here. */
  enqueuedAt: Date;
}

export type { OutgoingEmail, Recipient, RenderedEmail, SentEmail, SentRecord } from '../email-types.js';

export type ComponentStatus = { ok: true; detail?: string } | { ok: false; error: string };

export interface HealthReport {
  status: 'healthy' | 'unhealthy';
  service: 'email_workers';
  config_loaded: boolean;
  timestamp: string;
  components: {
    redis: ComponentStatus;
    smtp: ComponentStatus;
    database: ComponentStatus;
    templates: ComponentStatus;
  };
  /** Each dependency's circuit breaker: while one is not `closed`, the workers that need it take no jobs. */
  breakers?: Record<
    'smtp' | 'database' | 'redis',
    { state: 'closed' | 'open' | 'half_open'; since: string | undefined; reason: string | undefined }
  >;
}

/** What the ledger says about an email before it is sent. */
export type Claim =
  | { status: 'claimed' }
  /** An earlier attempt or job with the same key delivered it: send nothing. */
  | { status: 'sent'; messageId: string | undefined; response: string | undefined };

/**
 * This job's row in the delivery ledger. `claim` comes right before sending and `sent` right after the server
 * accepts; with the ledger off, every claim succeeds and nothing is recorded.
 */
export interface DeliveryRecord {
  /** The idempotency key: the producer's when given, else derived from the job. */
  readonly key: string;
  /**
   * Throws DeliveryInProgressError (transient) while another attempt holds the key, and
   * UncertainDeliveryError (permanent) for a key whose earlier attempt may have sent it.
   */
  claim(recipient: string): Promise<Claim>;
  /** Never throws: a failure to record is retried here and then logged, since the email is already out. */
  sent(email: SentRecord): Promise<void>;
}

/** Defaults from configuration that a handler needs to fill a payload's gaps. */
export interface TaskDefaults {
  locale: string;
  timeZone: string;
  currency: string;
  appUrl: string;
}

/**
 * What a handler may use, built once per process by `queues/start-workers.ts` (a unit test builds its own).
 * Each member throws the errors of `errors.ts`: permanent ones fail the job, transient ones retry it.
 */
export interface TaskContext {
  job: JobInfo;
  defaults: TaskDefaults;
  delivery: DeliveryRecord;
  /** Throws RecipientNotFoundError, DatabaseNotConfiguredError or DatabaseUnavailableError. */
  findRecipient(userId: string | number): Promise<Recipient>;
  render(template: string, data: Record<string, unknown>, locale: string): RenderedEmail;
  /** Throws SmtpRejectedError (5xx) or SmtpUnavailableError (connection, timeout, 4xx). */
  send(email: OutgoingEmail): Promise<SentEmail>;
  checkHealth(): Promise<HealthReport>;
  now(): Date;
}

export interface TaskDefinition<S extends z.ZodType = z.ZodType, R = unknown> {
  /** The name producers send; the file `src/tasks/<name>.ts` defines it. */
  name: string;
  /** Where the client routes it; a worker still runs it when it arrives on another queue. */
  queue: QueueName;
  /** Validated by the client before enqueue and by the worker before it runs. */
  schema: S;
  retry?: RetryPolicy;
  /**
   * A delivery found stuck in `sending` (an attempt died after the SMTP server may have accepted it): send again
   * (`resend`, a second copy beats none) or mark it `unknown` and alert. Default `resend`; UNCERTAIN_DELIVERY
   * overrides it per task.
   */
  uncertainDelivery?: 'resend' | 'mark_unknown';
  /** BullMQ priority given by the client (1 is highest); unset means none. */
  priority?: number;
  /** Returns the moment after which the job must not run; `expires_at` in any payload is checked as well. */
  expiresAt?: (payload: z.output<S>, enqueuedAt: Date) => Date | undefined;
  handle: (payload: z.output<S>, ctx: TaskContext) => Promise<R>;
  /** A payload as the producers send it: rendered at start-up, in previews and in tests. */
  sample: z.input<S>;
}

/** Identity at run time; it exists for the types (payload in `handle` is the schema's output). */
export function defineTask<S extends z.ZodType, R>(task: TaskDefinition<S, R>): TaskDefinition<S, R> {
  return Object.freeze(task);
}
