/**
 * Ends a claim whose attempt failed without sending, so the next attempt may claim again; for the attempt that
 * holds the claim only. Retried locally: a row left in `sending` would make the next attempt wait for nothing.
 */
import { withRetries, type LedgerSql } from './sql.js';

export function createMarkFailed(sql: LedgerSql) {
  // `bounced`: the server refused the address itself (it goes on the suppression list as well).
  return async (
    key: string,
    token: string,
    error: string,
    status: 'failed' | 'bounced' = 'failed',
  ): Promise<void> => {
    await withRetries(() =>
      sql.query(
        `UPDATE ${sql.table} SET status = $4, last_error = $3, updated_at = now(), lease_until = NULL
          WHERE idempotency_key = $1 AND attempt_token = $2 AND status = 'sending'`,
        [key, token, error.slice(0, 2000), status],
      ),
    );
  };
}
