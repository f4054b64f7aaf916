/** The ledger's own shapes: what a job tells it, and what it answers. */
import type { DeliveryStatus } from '../delivery-statuses.js';
import type { SuppressionReason } from '../suppressions.js';

export interface DeliveryJob {
  key: string;
  jobId: string;
  queue: string;
  task: string;
  correlationId: string | undefined;
  /** The longest an attempt may hold a claim (above the job's own time limit): a backstop to the job lock. */
  leaseMs: number;
  /** What to do when the key is found stuck in `sending` by an attempt that is gone. */
  uncertain: 'resend' | 'mark_unknown';
}

/** The attempt that holds a `sending` row: its job, and the BullMQ lock token of its run. */
export interface ClaimOwner {
  jobId: string;
  queue: string;
  token: string | null;
}

export type ClaimResult =
  | { status: 'claimed' }
  /** Delivered by an earlier attempt or job with the same key: send nothing. */
  | { status: 'sent'; messageId: string | undefined; response: string | undefined }
  /** Another attempt holds it; whether that attempt is alive is for the caller to find out (its job lock). */
  | { status: 'sending'; owner: ClaimOwner; leaseLeftMs: number }
  /** An earlier attempt may have sent it; a person decides. */
  | { status: 'unknown' }
  /** A final state that forbids sending (bounced, suppressed). */
  | { status: 'blocked'; state: DeliveryStatus }
  /** The address is on the suppression list (in force until `expiresAt`): nothing claimed, nothing recorded. */
  | { status: 'suppressed'; reason: SuppressionReason; expiresAt: Date | undefined };

export type ExpiryRecord =
  { status: 'expired' } | { status: 'sent'; messageId: string | undefined; response: string | undefined };

export interface DeliveryRow {
  id: string;
  idempotency_key: string;
  job_id: string;
  queue: string;
  task: string;
  recipient: string | null;
  subject: string | null;
  status: DeliveryStatus;
  attempts: number;
  message_id: string | null;
  smtp_response: string | null;
  last_error: string | null;
  correlation_id: string | null;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
  resolved_by: string | null;
  resolved_at: Date | null;
  /** Which relay sent it: `primary`, `fallback`, `outbox` (migration 0003). */
  relay: string | null;
}

export interface DeliveryFilter {
  recipient?: string | undefined;
  status?: DeliveryStatus | undefined;
  task?: string | undefined;
  since?: Date | undefined;
  key?: string | undefined;
  limit?: number | undefined;
}
