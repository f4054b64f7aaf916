/**
 * A person's verdict on an `unknown` delivery: `sent` (found in the mail server's log) or `resend` (not found),
 * recorded with who and when. A replay then completes as a duplicate, or sends.
 */
import type { LedgerSql } from './sql.js';
import type { DeliveryRow } from './types.js';
import { DELIVERY_ROW_COLUMNS } from './list.js';

export type Resolution = 'sent' | 'resend';

export function createResolve(sql: LedgerSql) {
  /** The updated row, or undefined when the key has no `unknown` row (nothing changed). */
  return async (key: string, resolution: Resolution, who: string): Promise<DeliveryRow | undefined> => {
    const { rows } = await sql.query<DeliveryRow>(
      `UPDATE ${sql.table}
          SET status = CASE WHEN $2 = 'sent' THEN 'sent' ELSE 'failed' END,
              sent_at = CASE WHEN $2 = 'sent' THEN coalesce(sent_at, updated_at) END,
              last_error = CASE WHEN $2 = 'sent' THEN NULL ELSE 'resolved: not sent, send again' END,
              resolved_by = $3, resolved_at = now(), updated_at = now(), lease_until = NULL
        WHERE idempotency_key = $1 AND status = 'unknown'
        RETURNING ${DELIVERY_ROW_COLUMNS}`,
      [key, resolution, who.slice(0, 200)],
    );
    return rows[0];
  };
}
