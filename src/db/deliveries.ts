/**
 * The delivery ledger (`<schema>.email_deliveries`): every email traced, and the claim that keeps one from being
 * sent twice. Each state change is one statement; the claim never reads before it writes. Claims and sent records
 * of concurrent jobs share their statements (see batch.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { DeliveryBlockedError, DeliveryInProgressError, UncertainDeliveryError } from '../errors.js';
import { deliveryRef } from '../logger.js';
import type { DeliveryStatus } from './delivery-statuses.js';
import { batched } from './batch.js';
import { toDatabaseError } from './pool.js';

export { DELIVERY_STATUSES, type DeliveryStatus } from './delivery-statuses.js';

/** What the ledger says before a send (the task contract's Claim, declared here too: db/ does not import tasks/). */
export type Claim =
  { status: 'claimed' } | { status: 'sent'; messageId: string | undefined; response: string | undefined };

export type ExpiryRecord =
  { status: 'expired' } | { status: 'sent'; messageId: string | undefined; response: string | undefined };

export interface DeliveryJob {
  key: string;
  jobId: string;
  queue: string;
  task: string;
  correlationId: string | undefined;
  /** How long a claim holds before another attempt may take it over (above the job's own timeout). */
  leaseMs: number;
  /** What to do when the key is found stuck in `sending` past its lease. */
  uncertain: 'resend' | 'mark_unknown';
}

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
}

export interface DeliveryFilter {
  recipient?: string;
  status?: DeliveryStatus;
  task?: string;
  since?: Date;
  limit?: number;
}

export interface Ledger {
  claim(job: DeliveryJob, recipient: string): Promise<Claim>;
  /** Retries locally: right after a 250, a database hiccup must not become a BullMQ retry and a second email. */
  markSent(key: string, sent: { subject: string; messageId: string; response: string }): Promise<void>;
  /** Records the failure of an attempt that held the claim; the next attempt may claim again. */
  markFailed(key: string, error: string): Promise<void>;
  /** Records an expiry; when the row says the email was sent after all, returns that instead. */
  markExpired(job: DeliveryJob, recipient: string | undefined, error: string): Promise<ExpiryRecord>;
  list(filter: DeliveryFilter): Promise<DeliveryRow[]>;
  purge(olderThanDays: number): Promise<number>;
  /** What `purge(olderThanDays)` would delete, by status (for `deliveries purge --dry-run`). */
  countOlderThan(olderThanDays: number): Promise<Array<{ status: DeliveryStatus; rows: number }>>;
}

/** Statuses an attempt may claim again: nothing went out for them. */
const RECLAIMABLE = `('failed', 'expired', 'rate_limited')`;

const RECORD_RETRY_DELAYS_MS = [50, 200, 500, 1_000, 2_000];

/** A state change after the SMTP conversation is retried here, a few times over about 4 s, never by BullMQ. */
async function withRetries(write: () => Promise<unknown>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await write();
      return;
    } catch (error) {
      const delay = RECORD_RETRY_DELAYS_MS[attempt];
      if (delay === undefined) throw toDatabaseError(error);
      await sleep(delay);
    }
  }
}

export function createLedger(pool: pg.Pool, schema: string): Ledger {
  const table = `"${schema.replace(/"/g, '""')}".email_deliveries`;
  const query = async <R extends pg.QueryResultRow>(text: string, values: unknown[]) => {
    try {
      return await pool.query<R>(text, values);
    } catch (error) {
      throw toDatabaseError(error);
    }
  };

  // One statement claims a whole batch; a key the statement does not return was not ours to send.
  const claimMany = (resend: boolean) =>
    batched<{ job: DeliveryJob; recipient: string }, boolean>(async (items) => {
      // A statement may not touch one row twice: a key repeated in the batch goes the unclaimed way.
      const first = new Map<string, { job: DeliveryJob; recipient: string }>();
      for (const item of items) if (!first.has(item.job.key)) first.set(item.job.key, item);
      const rows = [...first.values()];
      const { rows: claimed } = await query<{ idempotency_key: string }>(
        `INSERT INTO ${table} AS d
           (idempotency_key, job_id, queue, task, recipient, status, attempts, correlation_id, lease_until)
         SELECT k, j, q, t, r, 'sending', 1, c, now() + make_interval(secs => l)
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[])
             AS x(k, j, q, t, r, c, l)
         ON CONFLICT (idempotency_key) DO UPDATE SET
           status = 'sending', attempts = d.attempts + 1, job_id = EXCLUDED.job_id, queue = EXCLUDED.queue,
           recipient = EXCLUDED.recipient, correlation_id = EXCLUDED.correlation_id,
           lease_until = EXCLUDED.lease_until, updated_at = now()
         WHERE d.status IN ${RECLAIMABLE} OR (d.status = 'sending' AND d.lease_until < now() AND $8)
         RETURNING d.idempotency_key`,
        [
          rows.map((r) => r.job.key),
          rows.map((r) => r.job.jobId),
          rows.map((r) => r.job.queue),
          rows.map((r) => r.job.task),
          rows.map((r) => r.recipient),
          rows.map((r) => r.job.correlationId ?? null),
          rows.map((r) => r.job.leaseMs / 1000),
          resend,
        ],
      );
      const won = new Set(claimed.map((row) => row.idempotency_key));
      return items.map((item) => first.get(item.job.key) === item && won.has(item.job.key));
    });
  const claimers = { resend: claimMany(true), mark_unknown: claimMany(false) };

  const markSentMany = batched<{ key: string; subject: string; messageId: string; response: string }, void>(
    async (items) => {
      await pool.query(
        `UPDATE ${table} AS d
            SET status = 'sent', message_id = x.m, smtp_response = x.r, subject = x.s, sent_at = now(),
                updated_at = now(), lease_until = NULL, last_error = NULL
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(k, m, r, s)
          WHERE d.idempotency_key = x.k`,
        [
          items.map((i) => i.key),
          items.map((i) => i.messageId),
          items.map((i) => i.response),
          items.map((i) => i.subject),
        ],
      );
      return items.map(() => undefined);
    },
  );

  return {
    async claim(job, recipient) {
      if (await claimers[job.uncertain]({ job, recipient })) return { status: 'claimed' };
      // Not ours: the row exists in a state that forbids sending. Reading it now only explains why.
      const { rows } = await query<{
        status: DeliveryStatus;
        message_id: string | null;
        smtp_response: string | null;
        stale: boolean;
        lease_left_ms: number;
      }>(
        `SELECT status, message_id, smtp_response, coalesce(lease_until < now(), true) AS stale,
                coalesce(extract(epoch FROM lease_until - now()) * 1000, 0)::float8 AS lease_left_ms
           FROM ${table} WHERE idempotency_key = $1`,
        [job.key],
      );
      const row = rows[0];
      if (!row) return this.claim(job, recipient); // purged in between: claim afresh
      if (row.status === 'sent') {
        return {
          status: 'sent',
          messageId: row.message_id ?? undefined,
          response: row.smtp_response ?? undefined,
        };
      }
      if (row.status === 'sending' && !row.stale)
        throw new DeliveryInProgressError(deliveryRef(job.key, job.jobId), row.lease_left_ms);
      // The lease ran out between the two statements: a task that resends claims it on the next try.
      if (row.status === 'sending' && job.uncertain === 'resend') return this.claim(job, recipient);
      if (row.status === 'sending' || row.status === 'unknown') {
        await query(
          `UPDATE ${table} SET status = 'unknown', updated_at = now(), lease_until = NULL,
                  last_error = 'an earlier attempt ended without recording its outcome'
            WHERE idempotency_key = $1 AND status = 'sending'`,
          [job.key],
        );
        throw new UncertainDeliveryError(deliveryRef(job.key, job.jobId));
      }
      throw new DeliveryBlockedError(deliveryRef(job.key, job.jobId), row.status);
    },

    async markSent(key, sent) {
      await withRetries(() => markSentMany({ key, ...sent }));
    },

    async markFailed(key, error) {
      // Retried like the sent record: a row left in 'sending' would make the next attempt wait out the lease.
      await withRetries(() =>
        pool.query(
          `UPDATE ${table} SET status = 'failed', last_error = $2, updated_at = now(), lease_until = NULL
            WHERE idempotency_key = $1 AND status = 'sending'`,
          [key, error.slice(0, 2000)],
        ),
      );
    },

    async markExpired(job, recipient, error) {
      const { rowCount } = await query(
        `INSERT INTO ${table} AS d
           (idempotency_key, job_id, queue, task, recipient, status, attempts, correlation_id, last_error)
         VALUES ($1, $2, $3, $4, $5, 'expired', 0, $6, $7)
         ON CONFLICT (idempotency_key) DO UPDATE SET
           status = 'expired', last_error = EXCLUDED.last_error, job_id = EXCLUDED.job_id, updated_at = now(),
           lease_until = NULL
         WHERE d.status IN ${RECLAIMABLE}`,
        [job.key, job.jobId, job.queue, job.task, recipient ?? null, job.correlationId ?? null, error],
      );
      if (rowCount) return { status: 'expired' };
      const { rows } = await query<{
        status: DeliveryStatus;
        message_id: string | null;
        smtp_response: string | null;
      }>(`SELECT status, message_id, smtp_response FROM ${table} WHERE idempotency_key = $1`, [job.key]);
      const row = rows[0];
      return row?.status === 'sent'
        ? { status: 'sent', messageId: row.message_id ?? undefined, response: row.smtp_response ?? undefined }
        : { status: 'expired' };
    },

    async list(filter) {
      const where: string[] = [];
      const values: unknown[] = [];
      const add = (clause: string, value: unknown) => {
        values.push(value);
        where.push(clause.replace('?', `$${values.length}`));
      };
      if (filter.recipient) add('lower(recipient) = lower(?)', filter.recipient);
      if (filter.status) add('status = ?', filter.status);
      if (filter.task) add('task = ?', filter.task);
      if (filter.since) add('created_at >= ?', filter.since);
      values.push(filter.limit ?? 50);
      const { rows } = await query<DeliveryRow>(
        `SELECT id::text, idempotency_key, job_id, queue, task, recipient, subject, status, attempts, message_id,
                smtp_response, last_error, correlation_id, created_at, updated_at, sent_at
           FROM ${table} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
          ORDER BY created_at DESC LIMIT $${values.length}`,
        values,
      );
      return rows;
    },

    async purge(olderThanDays) {
      const { rowCount } = await query(
        `DELETE FROM ${table} WHERE created_at < now() - make_interval(secs => $1)`,
        [olderThanDays * 86_400],
      );
      return rowCount ?? 0;
    },

    async countOlderThan(olderThanDays) {
      const { rows } = await query<{ status: DeliveryStatus; rows: number }>(
        `SELECT status, count(*)::int AS rows FROM ${table}
          WHERE created_at < now() - make_interval(secs => $1) GROUP BY status ORDER BY rows DESC, status`,
        [olderThanDays * 86_400],
      );
      return rows;
    },
  };
}
