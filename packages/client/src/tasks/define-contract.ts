/**
 * A task's contract: what a producer and the workers agree on (the name, the queue it is routed to, the payload
 * schema, the retry and priority the client applies, when it expires). The workers add a handler to each
 * (src/tasks/<name>.ts); nothing here loads BullMQ, nodemailer or pg.
 */
import type { z } from 'zod';

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

export interface TaskContract<S extends z.ZodType = z.ZodType> {
  /** The name producers send; `src/tasks/<name>.ts` (this package) defines it. */
  name: string;
  /** Where the client routes it; a worker still runs it when it arrives on another queue. */
  queue: QueueName;
  /** Validated by the client before enqueue and by the worker before it runs. */
  schema: S;
  retry?: RetryPolicy;
  /** BullMQ priority given by the client (1 is highest); unset means none. */
  priority?: number;
  /** Payload fields never shown back to a caller (in results, failed reasons, statuses): an OTP code. */
  secret?: readonly string[];
  /** Returns the moment after which the job must not run; `expires_at` in any payload is checked as well. */
  expiresAt?: (payload: z.output<S>, enqueuedAt: Date) => Date | undefined;
}

/** Identity at run time; it exists for the types (the schema's output types `expiresAt`). */
export function defineContract<S extends z.ZodType>(contract: TaskContract<S>): TaskContract<S> {
  return Object.freeze(contract);
}
