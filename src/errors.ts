/**
 * Every error the service raises on purpose carries a stable `code` (documented in the README's error table).
 * Whether a job retries is decided by class: a {@link PermanentError} fails the job at once, a
 * {@link TransientError} retries with backoff. The classes a producer meets live in the client package
 * (`@email-workers/client`, which loads neither nodemailer nor pg) and are re-exported here;
 * `queues/process-job.ts` turns permanent errors into BullMQ's UnrecoverableError.
 */
import { EmailWorkersError, PermanentError, TransientError, type Dependency } from '@email-workers/client';

export {
  ConfigError,
  EmailWorkersError,
  InvalidPayloadError,
  PermanentError,
  QueueUnavailableError,
  TaskFailedError,
  TransientError,
  UndecryptablePayloadError,
  UnknownTaskError,
  WaitTimeoutError,
  type Dependency,
  type FieldProblem,
} from '@email-workers/client';

export class RecipientNotFoundError extends PermanentError {
  override readonly code = 'RECIPIENT_NOT_FOUND';
  constructor(readonly userId: string | number) {
    super(`user ${userId} not found or inactive`);
  }
}

/** The users table's address for this user is not one bare mailbox (a list, a group, a display name, CRLF). */
export class InvalidRecipientError extends PermanentError {
  override readonly code = 'RECIPIENT_INVALID';
  constructor(readonly userId: string | number) {
    super(`user ${userId} has no valid email address`);
  }
}

/** The users query itself is wrong (missing table or column): a configuration problem, not a missing user. */
export class RecipientLookupError extends PermanentError {
  override readonly code = 'RECIPIENT_LOOKUP_FAILED';
}

export class DatabaseNotConfiguredError extends PermanentError {
  override readonly code = 'DATABASE_NOT_CONFIGURED';
  constructor() {
    super(
      'no database configured: set DATABASE_URL (or DB_HOST and DB_NAME) to send tasks addressed by user_id',
    );
  }
}

/** An OTP or a waitlist offer that could not be sent in time: a stale code is worse than none. */
export class ExpiredError extends PermanentError {
  override readonly code = 'EXPIRED';
  constructor(readonly expiredAt: Date) {
    super(`expired (at ${expiredAt.toISOString()})`);
  }
}

/** The SMTP server refused the message for good (5xx). */
export class SmtpRejectedError extends PermanentError {
  override readonly code = 'SMTP_REJECTED';
  constructor(
    message: string,
    options?: ErrorOptions & {
      /** The refusal is about the recipient's address (a bounce): it goes on the suppression list. */
      recipientRefused?: boolean;
    },
  ) {
    super(message, options);
    this.recipientRefused = options?.recipientRefused ?? false;
  }
  readonly recipientRefused: boolean;
}

/** RECIPIENT_LIMITS: this address had its share of this task's emails for now. Nothing is sent. */
export class RateLimitedError extends PermanentError {
  override readonly code = 'RATE_LIMITED';
  constructor(label: string) {
    super(`rate limited (${label} to this address)`);
  }
}

/** The address is on the suppression list (it bounced, complained or unsubscribed). Nothing is sent. */
export class SuppressedError extends PermanentError {
  override readonly code = 'RECIPIENT_SUPPRESSED';
  constructor(reason: string, until: Date | undefined) {
    super(
      `suppressed: the address is on the suppression list (${reason}${until ? ` until ${until.toISOString()}` : ''})`,
    );
  }
}

/**
 * The service-wide send quota (EMAIL_RATE_LIMIT, slowed by the relay's throttling) has no room for this email
 * yet: it goes back to the queue without using up an attempt.
 */
export class QuotaExceededError extends TransientError {
  override readonly code = 'QUOTA_WAIT';
  constructor(readonly retryAfterMs: number) {
    super(`held back by the send quota (EMAIL_RATE_LIMIT); next slot in ${Math.round(retryAfterMs)} ms`);
  }
}

/** The SMTP server could not be reached, or answered 4xx. */
export class SmtpUnavailableError extends TransientError {
  override readonly code = 'SMTP_UNAVAILABLE';
  constructor(
    message: string,
    options?: ErrorOptions & {
      /** The connection broke or went quiet during DATA: the server may have accepted the message. */
      mayHaveBeenSent?: boolean;
      /** 'smtp' when the failure is the server's or our connection's, not this recipient's or message's. */
      dependency?: 'smtp' | undefined;
    },
  ) {
    super(message, options);
    this.mayHaveBeenSent = options?.mayHaveBeenSent ?? false;
  }
  readonly mayHaveBeenSent: boolean;
}

export class DatabaseUnavailableError extends TransientError {
  override readonly code = 'DATABASE_UNAVAILABLE';
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, dependency: 'database' });
  }
}

/**
 * A table or column of the service's own is missing (the ledger not migrated, or dropped): nothing can be
 * recorded until someone runs `start-workers migrate`. Treated as an outage of the database, never as a failure
 * of the email: jobs wait, and the database breaker says why at `fatal`.
 */
export class DatabaseSchemaError extends TransientError {
  override readonly code = 'DATABASE_SCHEMA_MISSING';
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, dependency: 'database' });
  }
}

/** A dependency was unavailable for longer than BREAKER_MAX_OUTAGE: the job fails with the last error. */
export class OutageTooLongError extends PermanentError {
  override readonly code = 'OUTAGE_TOO_LONG';
  constructor(dependency: Dependency, seconds: number, cause: Error) {
    super(`${dependency} unavailable for ${formatSeconds(seconds)} (BREAKER_MAX_OUTAGE): ${cause.message}`, {
      cause,
    });
  }
}

function formatSeconds(seconds: number): string {
  if (seconds >= 86_400 && seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds >= 60) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds)}s`;
}

/*
 * The three ledger errors below name the email by `ref`, `key #3fa2c1d9, job 17` (the logger's deliveryRef), never
 * by its idempotency key: a producer's key may hold the recipient's address, and failed reasons are shown by
 * monitors.
 */

/** Another attempt holds this email's ledger row right now; retry once it has finished. */
export class DeliveryInProgressError extends TransientError {
  override readonly code = 'DELIVERY_IN_PROGRESS';
  /** Retrying before the other attempt's lease ends would only find it busy again. */
  constructor(
    ref: string,
    readonly retryAfterMs: number,
  ) {
    super(`another attempt is sending this email (${ref})`);
  }
}

/** An earlier attempt died after claiming the email: it may have been sent. A person decides. */
export class UncertainDeliveryError extends PermanentError {
  override readonly code = 'DELIVERY_UNCERTAIN';
  constructor(ref: string) {
    super(`delivery state unknown: an earlier attempt may have sent this email (${ref}); marked unknown`);
  }
}

/** The ledger holds a final state other than sent for this key (bounced): nothing is sent. */
export class DeliveryBlockedError extends PermanentError {
  override readonly code = 'DELIVERY_BLOCKED';
  constructor(ref: string, status: string) {
    super(`not sent: the ledger says ${status} for this email (${ref})`);
  }
}

/** The attempt ran past JOB_TIMEOUT_MS while waiting on `dependency`: its message was withdrawn. */
export class JobTimeoutError extends TransientError {
  override readonly code = 'JOB_TIMEOUT';
  constructor(timeoutMs: number, dependency: Dependency | undefined, phase: string) {
    super(`job timed out after ${timeoutMs} ms (${phase})`, { dependency });
  }
}

/** A transient failure that used up the task's attempts. */
export class RetriesExhaustedError extends PermanentError {
  override readonly code = 'RETRIES_EXHAUSTED';
  constructor(attempts: number, cause: Error) {
    super(`failed after ${attempts} attempts: ${cause.message}`, { cause });
  }
}

/** A template that does not compile or render: at start-up it stops the process; in a job, retrying cannot help. */
export class TemplateError extends PermanentError {
  override readonly code = 'TEMPLATE_INVALID';
}

/** A start-up precondition that does not hold (Redis evicts keys, SMTP refuses, …). */
export class StartupError extends EmailWorkersError {
  readonly code = 'STARTUP_FAILED';
}

/**
 * A bridge could not turn a message into a task (a serializer other than JSON, a body that does not parse, too
 * many arguments, …): it is dead-lettered with this reason and never executed.
 */
export class UndecodableMessageError extends EmailWorkersError {
  readonly code = 'MESSAGE_UNDECODABLE';
}

/** `start-workers --processes N`: a worker process kept crashing soon after its start, so restarting it is futile. */
export class CrashLoopError extends EmailWorkersError {
  readonly code = 'CRASH_LOOP';
}
