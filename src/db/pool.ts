import pg from 'pg';
import type { Config } from '../config.js';
import { DatabaseUnavailableError } from '../errors.js';

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

// Connection-level SQLSTATE classes: 08 connection exception, 53 insufficient resources, 57 operator
// intervention (e.g. 57P01 admin shutdown), 40 transaction rollback (serialization, deadlock).
const TRANSIENT_SQLSTATE = /^(08|53|57|40)/;

/** True when the failure is about reaching the database, not about the query. */
export function isConnectionFailure(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (typeof e?.code === 'string' && (TRANSIENT_SQLSTATE.test(e.code) || e.code.startsWith('E'))) return true;
  return /timeout|terminat|Connection|ECONN/i.test(e?.message ?? '');
}

export function toDatabaseError(error: unknown): Error {
  if (isConnectionFailure(error)) {
    return new DatabaseUnavailableError(`database unavailable: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return error as Error;
}
