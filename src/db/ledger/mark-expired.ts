/** Records an expiry, unless the row shows the email sent after all (a run after a crash, past the deadline). */
import type { DeliveryStatus } from '../delivery-statuses.js';
import { RECLAIMABLE, type LedgerSql } from './sql.js';
import type { DeliveryJob, ExpiryRecord } from './types.js';

export function createMarkExpired(sql: LedgerSql) {
  return async (job: DeliveryJob, recipient: string | undefined, error: string): Promise<ExpiryRecord> => {
    const { rowCount } = await sql.query(
      `INSERT INTO ${sql.table} AS d
         (idempotency_key, job_id, queue, task, recipient, status, attempts, correlation_id, last_error)
       VALUES ($1, $2, $3, $4, $5, 'expired', 0, $6, $7)
       ON CONFLICT (idempotency_key) DO UPDATE SET
         status = 'expired', last_error = EXCLUDED.last_error, job_id = EXCLUDED.job_id, updated_at = now(),
         lease_until = NULL
       WHERE d.status IN ${RECLAIMABLE}`,
      [job.key, job.jobId, job.queue, job.task, recipient ?? null, job.correlationId ?? null, error],
    );
    if (rowCount) return { status: 'expired' };
    const { rows } = await sql.query<{
      status: DeliveryStatus;
      message_id: string | null;
      smtp_response: string | null;
    }>(`SELECT status, message_id, smtp_response FROM ${sql.table} WHERE idempotency_key = $1`, [job.key]);
    const row = rows[0];
    return row?.status === 'sent'
      ? { status: 'sent', messageId: row.message_id ?? undefined, response: row.smtp_response ?? undefined }
      : { status: 'expired' };
  };
}
