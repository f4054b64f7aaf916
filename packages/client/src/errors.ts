/**
 * The errors a producer meets, each with a stable `code` (the README's error table). The workers' own errors
 * extend these classes (src/errors.ts): whether a job retries is decided by class, a {@link PermanentError}
 * fails it at once, a {@link TransientError} retries with backoff. Imports nothing.
 */
export abstract class EmailWorkersError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Retrying cannot help: the job fails at once and stays in the failed set with its payload. */
export class PermanentError extends EmailWorkersError {
  readonly code: string = 'PERMANENT';
}

/** The services a worker depends on; each has its own circuit breaker. */
export type Dependency = 'smtp' | 'database' | 'redis';

/**
 * Retrying may help. A failure of one message (a 4xx for one recipient) uses up one of the job's attempts; a
 * failure of a `dependency` (the SMTP server or the database unreachable, refusing our connection, account or
 * sender) is an outage: it never uses up an email's attempts, and it counts towards that dependency's breaker.
 */
export class TransientError extends EmailWorkersError {
  readonly code: string = 'TRANSIENT';
  constructor(
    message: string,
    options?: ErrorOptions & {
      /** Set when the failure is the dependency's, not this message's. */
      dependency?: Dependency | undefined;
    },
  ) {
    super(message, options);
    this.dependency = options?.dependency;
  }
  readonly dependency: Dependency | undefined;
}

export interface FieldProblem {
  /** Dotted path of the offending field, e.g. `booking_data.quantity`; empty for the payload itself. */
  field: string;
  message: string;
}

export class InvalidPayloadError extends PermanentError {
  override readonly code = 'INVALID_PAYLOAD';
  constructor(
    readonly task: string,
    readonly problems: readonly FieldProblem[],
  ) {
    super(
      `invalid payload for ${task}: ${problems.map((p) => `${p.field || '(payload)'}: ${p.message}`).join('; ')}`,
    );
  }
}

/** An encrypted payload field that this worker cannot decrypt (PAYLOAD_ENCRYPTION_KEY lacks its key, or altered). */
export class UndecryptablePayloadError extends PermanentError {
  override readonly code = 'PAYLOAD_UNDECRYPTABLE';
  constructor(task: string, field: string, why: string) {
    super(`cannot decrypt field ${field} of ${task}: ${why}`);
  }
}

export class UnknownTaskError extends PermanentError {
  override readonly code = 'UNKNOWN_TASK';
  constructor(
    readonly task: string,
    knownTasks: readonly string[] = [],
  ) {
    super(
      knownTasks.length ? `unknown task ${task} (known: ${knownTasks.join(', ')})` : `unknown task ${task}`,
    );
  }
}

/** The client could not reach Redis in time: nothing was enqueued. */
export class QueueUnavailableError extends EmailWorkersError {
  readonly code = 'QUEUE_UNAVAILABLE';
}

/** Bad configuration: `problems` holds one line per variable. */
export class ConfigError extends EmailWorkersError {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

/**
 * A job that `enqueueAndWait` waited for failed for good: `reason` is the job's failed reason (addresses masked,
 * as monitors show it) and `code` the worker's error code (e.g. `SMTP_REJECTED`, `EXPIRED`), like the exception
 * Celery's `AsyncResult.get()` raises.
 */
export class TaskFailedError extends EmailWorkersError {
  readonly code: string;
  constructor(
    readonly jobId: string,
    readonly reason: string,
    code: string | undefined,
  ) {
    super(`job ${jobId} failed: ${reason}`);
    this.code = code ?? 'TASK_FAILED';
  }
}

/** `enqueueAndWait` stopped waiting: the job was enqueued and keeps running; look it up with getTaskStatus. */
export class WaitTimeoutError extends EmailWorkersError {
  readonly code = 'WAIT_TIMEOUT';
  constructor(
    readonly jobId: string,
    timeoutMs: number,
  ) {
    super(
      `job ${jobId} did not finish within ${timeoutMs} ms; it keeps running (getTaskStatus tells its outcome)`,
    );
  }
}

/** `getTaskStatus` found this numeric id in more than one queue (ids count per queue): pass the task name. */
export class AmbiguousJobIdError extends EmailWorkersError {
  readonly code = 'JOB_ID_AMBIGUOUS';
  constructor(jobId: string, tasks: readonly string[]) {
    super(`job id ${jobId} is held by several queues (${tasks.join(', ')}): pass the task name`);
  }
}
