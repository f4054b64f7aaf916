/**
 * The one table that sorts PostgreSQL failures, as smtp-errors.ts does for SMTP: is the database unreachable
 * (wait for it), is a table or column of ours missing (someone must act: migrate, or fix USERS_*), does a value
 * not fit a column's type, or is it anything else (a bug: let it surface).
 */
import { DatabaseSchemaError, DatabaseUnavailableError } from '../errors.js';

export type PgFailureKind = 'unavailable' | 'schema' | 'value' | 'other';

// SQLSTATE classes about reaching the server, not about the statement: 08 connection exception, 53 insufficient
// resources, 57 operator intervention (57P01 admin shutdown, 57014 query cancelled), 40 transaction rollback
// (serialization failure, deadlock: retrying helps).
const UNAVAILABLE_SQLSTATE = /^(08|53|57|40)/;
// 42P01 undefined table, 42703 undefined column, 3F000 invalid schema name.
const SCHEMA_SQLSTATE = new Set(['42P01', '42703', '3F000']);
// 22P02 invalid text representation (a UUID for an integer id), 22003 numeric value out of range.
const VALUE_SQLSTATE = new Set(['22P02', '22003']);
// Node's socket errors, and the pg driver's own messages for a dead or slow connection, which carry no SQLSTATE.
const UNAVAILABLE_MESSAGE = /timeout|terminat|Connection|ECONN|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND/i;

export function classifyPgError(error: unknown): PgFailureKind {
  const e = (error ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && SCHEMA_SQLSTATE.has(code)) return 'schema';
  if (code && VALUE_SQLSTATE.has(code)) return 'value';
  if (code && (UNAVAILABLE_SQLSTATE.test(code) || code.startsWith('E'))) return 'unavailable';
  return UNAVAILABLE_MESSAGE.test(typeof e.message === 'string' ? e.message : '') ? 'unavailable' : 'other';
}

/** True when the failure is about reaching the database, not about the statement. */
export function isConnectionFailure(error: unknown): boolean {
  return classifyPgError(error) === 'unavailable';
}

/**
 * Wraps a failure of the service's own tables (the ledger) in the service's error classes: unreachable →
 * DatabaseUnavailableError, missing table → DatabaseSchemaError; anything else is returned as it is.
 */
export function toDatabaseError(error: unknown, table?: string): Error {
  switch (classifyPgError(error)) {
    case 'unavailable':
      return new DatabaseUnavailableError(`database unavailable: ${(error as Error).message}`, {
        cause: error,
      });
    case 'schema':
      return new DatabaseSchemaError(
        `${table ? `${table}: ` : ''}${(error as Error).message}: run \`start-workers migrate\``,
        { cause: error },
      );
    default:
      return error as Error;
  }
}
