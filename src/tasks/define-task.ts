/**
 * A task as the workers run it: its contract (name, queue, schema, retry, priority, expiry; the client package's
 * tasks/<name>.ts) plus its handler and sample, and what the handler may use. Pure types and zod; no BullMQ,
 * nodemailer or pg, so tests can import every task definition on its own.
 */
import type { z } from 'zod';
import type { TaskContract } from '@email-workers/client/internal';
import type { OutgoingEmail, Recipient, RenderedEmail, SentEmail, SentRecord } from '../email-types.js';

export { QUEUE_NAMES, type QueueName, type RetryPolicy } from '@email-workers/client/internal';

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

export interface TaskDefinition<S extends z.ZodType = z.ZodType, R = unknown> extends TaskContract<S> {
  /**
   * A delivery found stuck in `sending` (an attempt died after the SMTP server may have accepted it): send again
   * (`resend`, a second copy beats none) or mark it `unknown` and alert. Default `resend`; UNCERTAIN_DELIVERY
   * overrides it per task.
   */
  uncertainDelivery?: 'resend' | 'mark_unknown';
  handle: (payload: z.output<S>, ctx: TaskContext) => Promise<R>;
  /** A payload as the producers send it: rendered at start-up, in previews and in tests. */
  sample: z.input<S>;
}

/** Identity at run time; it exists for the types (payload in `handle` is the schema's output). */
export function defineTask<S extends z.ZodType, R>(task: TaskDefinition<S, R>): TaskDefinition<S, R> {
  return Object.freeze(task);
}
