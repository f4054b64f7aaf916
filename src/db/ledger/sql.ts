/** What every ledger statement runs on: the pool, the quoted table name, and a query that sorts failures. */
import type pg from 'pg';
import { toDatabaseError } from '../pg-errors.js';
import { statementName } from '../pool.js';

export interface LedgerSql {
  pool: pg.Pool;
  /** `"<schema>".email_deliveries`, quoted. */
  table: string;
  /** `"<schema>".email_suppressions`, quoted: the claim reads it (../suppressions.ts keeps it). */
  suppressions: string;
  query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>>;
  /**
   * The same, as a named statement: PostgreSQL parses and plans it once per connection instead of on every call.
   * For the statements of every email (the claim, the sent record), whose planning was most of PostgreSQL's CPU
   * per email (docs/BENCHMARKS.md).
   */
  prepared(text: string): <R extends pg.QueryResultRow>(values: unknown[]) => Promise<pg.QueryResult<R>>;
}

export function ledgerSql(pool: pg.Pool, schema: string): LedgerSql {
  const quoted = `"${schema.replace(/"/g, '""')}"`;
  const table = `${quoted}.email_deliveries`;
  return {
    pool,
    table,
    suppressions: `${quoted}.email_suppressions`,
    async query(text, values) {
      try {
        return await pool.query(text, values);
      } catch (error) {
        throw toDatabaseError(error, `the delivery ledger ${table}`);
      }
    },
    prepared(text) {
      const name = statementName('ledger', text);
      return async (values) => {
        try {
          return await pool.query({ name, text, values });
        } catch (error) {
          throw toDatabaseError(error, `the delivery ledger ${table}`);
        }
      };
    },
  };
}

/**
 * Statuses an attempt may claim again: nothing went out for them. `suppressed` too: the suppression list is
 * checked by every claim, so a key refused while its address was listed sends once the address is removed.
 */
export const RECLAIMABLE = `('failed', 'expired', 'rate_limited', 'suppressed')`;

const RECORD_RETRY_DELAYS_MS = [50, 200, 500, 1_000, 2_000];

/**
 * A state change after the SMTP conversation is retried here, a few times over about 4 s, never by BullMQ: right
 * after a 250, a database hiccup must not become a retry of the job and a second email.
 */
export async function withRetries<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      const delay = RECORD_RETRY_DELAYS_MS[attempt];
      if (delay === undefined) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
