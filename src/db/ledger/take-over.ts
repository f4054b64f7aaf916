/**
 * Takes a `sending` row over from an attempt known to be gone (its job lock is held by nobody or by another run,
 * or it is known never to have sent). Conditional on the owner's token, so two attempts cannot both take it.
 */
import type { LedgerSql } from './sql.js';
import type { DeliveryJob } from './types.js';

export function createTakeOver(sql: LedgerSql) {
  return async (
    job: DeliveryJob,
    recipient: string,
    token: string,
    ownerToken: string | null,
  ): Promise<boolean> => {
    const { rowCount } = await sql.query(
      `UPDATE ${sql.table}
          SET status = 'sending', attempts = attempts + 1, attempt_token = $2, job_id = $3, queue = $4,
              recipient = $5, correlation_id = $6, lease_until = now() + make_interval(secs => $7),
              updated_at = now()
        WHERE idempotency_key = $1 AND status = 'sending' AND attempt_token IS NOT DISTINCT FROM $8`,
      [
        job.key,
        token,
        job.jobId,
        job.queue,
        recipient,
        job.correlationId ?? null,
        job.leaseMs / 1000,
        ownerToken,
      ],
    );
    return (rowCount ?? 0) > 0;
  };
}
