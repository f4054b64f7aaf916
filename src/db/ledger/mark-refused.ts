/**
 * Records an email the service refused to send (`rate_limited`, `suppressed`) without ever claiming it: a row of
 * its own when the key is new, or the key's row when nothing went out for it yet. A sent or sending row is
 * never touched.
 */
import { RECLAIMABLE, withRetries, type LedgerSql } from './sql.js';
import type { DeliveryJob } from './types.js';

export function createMarkRefused(sql: LedgerSql) {
  return async (
    job: DeliveryJob,
    recipient: string,
    status: 'rate_limited' | 'suppressed',
    reason: string,
  ): Promise<void> => {
    await withRetries(() =>
      sql.query(
        `INSERT INTO ${sql.table} AS d
           (idempotency_key, job_id, queue, task, recipient, status, attempts, correlation_id, last_error)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)
         ON CONFLICT (idempotency_key) DO UPDATE SET
           status = EXCLUDED.status, last_error = EXCLUDED.last_error, job_id = EXCLUDED.job_id,
           recipient = EXCLUDED.recipient, updated_at = now(), lease_until = NULL
         WHERE d.status IN ${RECLAIMABLE}`,
        [job.key, job.jobId, job.queue, job.task, recipient, status, job.correlationId ?? null, reason],
      ),
    );
  };
}
