import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Config } from '../config.js';

export type Pool = pg.Pool;

export interface PoolOptions {
  onIdleError?: (error: Error) => void;
}

export function createPool(
  database: Config['database'] & { url: string },
  options: PoolOptions = {},
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: database.url,
    max: database.poolSize,
    connectionTimeoutMillis: database.connectTimeoutMs,
    // A query stuck on a dead connection must fail the attempt, not hold the job until its lock expires.
    query_timeout: database.connectTimeoutMs * 2,
    idleTimeoutMillis: 30_000,
    // A name in the URL (?application_name=…) wins, so each deployment can tell its connections apart.
    application_name: new URL(database.url).searchParams.get('application_name') ?? 'email-workers',
  });
  // An idle client dropped by a server restart emits here; without a listener it would crash the process.
  pool.on('error', (error) => options.onIdleError?.(error));
  return pool;
}

/**
 * The name of a named (prepared) statement, from its text: PostgreSQL parses and plans it once per connection, and
 * two texts never share a name (users directories of two tables, ledgers of two schemas, on one pool).
 */
export function statementName(label: string, text: string): string {
  return `${label}-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}
