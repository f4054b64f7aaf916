/**
 * Results back to the caller: what a job returned or why it failed, read from Redis by any process that can
 * reach it (the workers keep finished jobs there for their retention period). Never shows a payload's secret
 * fields (an OTP code): they are redacted wherever they would appear.
 */
import type { TaskContract } from './tasks/define-contract.js';

/**
 * What these functions read of a BullMQ job. A type of its own rather than bullmq's `Job`: the package bundles
 * bullmq (it is no dependency a producer installs), so its public types must not name it; the workers' `Job`, from
 * their own bullmq, fits it as well as the client's.
 */
export interface JobLike {
  readonly id?: string | undefined;
  readonly name: string;
  readonly data: unknown;
  readonly progress: unknown;
  readonly returnvalue: unknown;
  readonly failedReason: string | undefined;
  readonly attemptsStarted: number;
  getState(): Promise<string>;
}

/** What the workers record on a job besides its result (BullMQ's `job.progress`). */
export interface JobReport {
  /** The error code of a job failed for good (`SMTP_REJECTED`, `EXPIRED`, …). */
  code?: string;
  /** The delivery ledger's status for the email (`sent`, `failed`, `expired`, `unknown`) when the ledger is on. */
  delivery?: string;
}

export type TaskState =
  | 'waiting'
  | 'prioritized'
  | 'delayed'
  | 'active'
  | 'waiting-children'
  | 'completed'
  | 'failed'
  /** No job with this id (never enqueued, or removed after the retention period), like Celery's PENDING. */
  | 'unknown';

export interface TaskStatus {
  id: string;
  /** The task name; undefined for an unknown id. */
  task: string | undefined;
  state: TaskState;
  /** Runs started so far (0 before the first). */
  attempts: number;
  /** The job's return value once completed (the old service's dictionary: success, email, echo keys, message_id). */
  result?: Record<string, unknown>;
  /** Why it failed, once failed (addresses masked). */
  failed_reason?: string;
  /** The failure's error code, once failed. */
  code?: string;
  /** The delivery ledger's status, when the ledger is on. */
  delivery?: string;
}

export const REDACTED = '[redacted]';

/** `value` with every secret field of `payload` (named by the contract) replaced, in keys and in text. */
export function redact<T>(value: T, contract: Pick<TaskContract, 'secret'> | undefined, payload: unknown): T {
  const fields = contract?.secret ?? [];
  if (!fields.length) return value;
  const data = (payload ?? {}) as Record<string, unknown>;
  const secrets = fields
    .map((field) => data[field])
    .filter((v): v is string | number => typeof v === 'string' || typeof v === 'number')
    .map(String)
    .filter((v) => v.length > 0);
  const walk = (inner: unknown): unknown => {
    if (typeof inner === 'string') return secrets.reduce((text, s) => text.split(s).join(REDACTED), inner);
    if (typeof inner === 'number' && secrets.includes(String(inner))) return REDACTED;
    if (Array.isArray(inner)) return inner.map(walk);
    if (inner && typeof inner === 'object') {
      return Object.fromEntries(
        Object.entries(inner).map(([key, v]) => [key, fields.includes(key) ? REDACTED : walk(v)]),
      );
    }
    return inner;
  };
  return walk(value) as T;
}

export function reportOf(job: Pick<JobLike, 'progress'>): JobReport {
  const progress = job.progress;
  return progress && typeof progress === 'object' ? (progress as JobReport) : {};
}

/** A job's status as `getTaskStatus` reports it. */
export async function statusOf(job: JobLike, contract: TaskContract | undefined): Promise<TaskStatus> {
  const state = (await job.getState()) as TaskState;
  const report = reportOf(job);
  const status: TaskStatus = { id: String(job.id), task: job.name, state, attempts: job.attemptsStarted };
  if (state === 'completed' && job.returnvalue && typeof job.returnvalue === 'object') {
    status.result = redact(job.returnvalue as Record<string, unknown>, contract, job.data);
  }
  if (state === 'failed') {
    status.failed_reason = redact(job.failedReason ?? '', contract, job.data);
    if (report.code) status.code = report.code;
  }
  if (report.delivery) status.delivery = report.delivery;
  return status;
}
