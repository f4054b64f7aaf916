/**
 * The claim before a send: one `INSERT … ON CONFLICT … DO UPDATE … WHERE … RETURNING`, never a read before the
 * write. Claims of concurrent jobs share one statement (see ../batch.ts). A key the statement does not return
 * was not ours to send; reading its row then only explains why.
 *
 * The same statement reads the suppression list and claims no address on it: one round trip per batch instead of
 * two, the largest share of the ledger's cost per email (docs/BENCHMARKS.md).
 */
import { batched } from '../batch.js';
import type { DeliveryStatus } from '../delivery-statuses.js';
import { normalizeAddress, type SuppressionReason } from '../suppressions.js';
import { RECLAIMABLE, type LedgerSql } from './sql.js';
import type { ClaimResult, DeliveryJob } from './types.js';

interface ClaimItem {
  job: DeliveryJob;
  recipient: string;
  token: string;
}

/** Claimed, not claimed (the row says why), or not claimed because the address is on the suppression list. */
type ClaimAnswer = true | false | { reason: SuppressionReason; expiresAt: Date | undefined };

export function createClaim(
  sql: LedgerSql,
): (job: DeliveryJob, recipient: string, token: string) => Promise<ClaimResult> {
  const claimStatement = sql.prepared(
    `WITH x AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                            $7::float8[], $8::text[], $10::text[]) AS x(k, j, q, t, r, c, l, a, n)
     ), listed AS (
       SELECT x.k, s.reason, s.expires_at FROM x JOIN ${sql.suppressions} AS s ON s.address = x.n
        WHERE s.expires_at IS NULL OR s.expires_at > now()
     ), claimed AS (
       INSERT INTO ${sql.table} AS d
         (idempotency_key, job_id, queue, task, recipient, status, attempts, correlation_id, lease_until,
          attempt_token)
       SELECT k, j, q, t, r, 'sending', 1, c, now() + make_interval(secs => l), a
         FROM x WHERE x.k NOT IN (SELECT k FROM listed)
       ON CONFLICT (idempotency_key) DO UPDATE SET
         status = 'sending', attempts = d.attempts + 1, job_id = EXCLUDED.job_id, queue = EXCLUDED.queue,
         recipient = EXCLUDED.recipient, correlation_id = EXCLUDED.correlation_id,
         lease_until = EXCLUDED.lease_until, attempt_token = EXCLUDED.attempt_token, updated_at = now()
       WHERE d.status IN ${RECLAIMABLE} OR (d.status = 'sending' AND d.lease_until < now() AND $9)
       RETURNING d.idempotency_key AS k
     )
     SELECT k, NULL AS reason, NULL::timestamptz AS expires_at FROM claimed
     UNION ALL SELECT k, reason, expires_at FROM listed`,
  );
  // A stale 'sending' row (its lease over) is taken in the same statement only by tasks whose policy resends.
  const claimMany = (resend: boolean) =>
    batched<ClaimItem, ClaimAnswer>(async (items) => {
      // A statement may not touch one row twice: a key repeated in the batch goes the unclaimed way.
      const first = new Map<string, ClaimItem>();
      for (const item of items) if (!first.has(item.job.key)) first.set(item.job.key, item);
      const rows = [...first.values()];
      const { rows: answers } = await claimStatement<{
        k: string;
        reason: SuppressionReason | null;
        expires_at: Date | null;
      }>([
        rows.map((r) => r.job.key),
        rows.map((r) => r.job.jobId),
        rows.map((r) => r.job.queue),
        rows.map((r) => r.job.task),
        rows.map((r) => r.recipient),
        rows.map((r) => r.job.correlationId ?? null),
        rows.map((r) => r.job.leaseMs / 1000),
        rows.map((r) => r.token),
        resend,
        rows.map((r) => normalizeAddress(r.recipient)),
      ]);
      const byKey = new Map(answers.map((row) => [row.k, row]));
      return items.map((item): ClaimAnswer => {
        const answer = first.get(item.job.key) === item ? byKey.get(item.job.key) : undefined;
        if (!answer) return false;
        return answer.reason ? { reason: answer.reason, expiresAt: answer.expires_at ?? undefined } : true;
      });
    });
  const claimers = { resend: claimMany(true), mark_unknown: claimMany(false) };

  const claim = async (job: DeliveryJob, recipient: string, token: string): Promise<ClaimResult> => {
    const answer = await claimers[job.uncertain]({ job, recipient, token });
    if (answer === true) return { status: 'claimed' };
    if (answer) return { status: 'suppressed', ...answer };
    const { rows } = await sql.query<{
      status: DeliveryStatus;
      message_id: string | null;
      smtp_response: string | null;
      job_id: string;
      queue: string;
      attempt_token: string | null;
      lease_left_ms: number | null;
    }>(
      `SELECT status, message_id, smtp_response, job_id, queue, attempt_token,
              (extract(epoch FROM lease_until - now()) * 1000)::float8 AS lease_left_ms
         FROM ${sql.table} WHERE idempotency_key = $1`,
      [job.key],
    );
    const row = rows[0];
    if (!row) return claim(job, recipient, token); // purged in between: claim afresh
    switch (row.status) {
      case 'sent':
        return {
          status: 'sent',
          messageId: row.message_id ?? undefined,
          response: row.smtp_response ?? undefined,
        };
      case 'sending':
        return {
          status: 'sending',
          owner: { jobId: row.job_id, queue: row.queue, token: row.attempt_token },
          leaseLeftMs: Math.max(0, row.lease_left_ms ?? 0),
        };
      case 'unknown':
        return { status: 'unknown' };
      case 'failed':
      case 'expired':
      case 'rate_limited':
      case 'suppressed':
        // Reclaimable after all (it changed between the two statements): try again.
        return claim(job, recipient, token);
      default:
        return { status: 'blocked', state: row.status };
    }
  };
  return claim;
}
