/**
 * An attempt died after claiming an email whose task does not resend: it may have been sent, and a person
 * decides (`start-workers deliveries resolve`). Conditional on the dead attempt's token.
 */
import type { LedgerSql } from './sql.js';

export function createMarkUnknown(sql: LedgerSql) {
  return async (key: string, ownerToken: string | null): Promise<void> => {
    await sql.query(
      `UPDATE ${sql.table} SET status = 'unknown', updated_at = now(), lease_until = NULL,
              last_error = 'an earlier attempt ended without recording its outcome'
        WHERE idempotency_key = $1 AND status = 'sending' AND attempt_token IS NOT DISTINCT FROM $2`,
      [key, ownerToken],
    );
  };
}
