/** Deletes rows older than a number of days (LEDGER_RETENTION_DAYS daily, or `deliveries purge`). */
import type { DeliveryStatus } from '../delivery-statuses.js';
import type { LedgerSql } from './sql.js';

export function createPurge(sql: LedgerSql) {
  return async (olderThanDays: number): Promise<number> => {
    const { rowCount } = await sql.query(
      `DELETE FROM ${sql.table} WHERE created_at < now() - make_interval(secs => $1)`,
      [olderThanDays * 86_400],
    );
    return rowCount ?? 0;
  };
}

/** What `purge(olderThanDays)` would delete, by status (for `deliveries purge --dry-run` and its report). */
export function createCountOlderThan(sql: LedgerSql) {
  return async (olderThanDays: number): Promise<Array<{ status: DeliveryStatus; rows: number }>> => {
    const { rows } = await sql.query<{ status: DeliveryStatus; rows: number }>(
      `SELECT status, count(*)::int AS rows FROM ${sql.table}
        WHERE created_at < now() - make_interval(secs => $1) GROUP BY status ORDER BY rows DESC, status`,
      [olderThanDays * 86_400],
    );
    return rows;
  };
}
