/** Deletes rows older than a number of days (LEDGER_RETENTION_DAYS daily, or `deliveries purge`). */
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
