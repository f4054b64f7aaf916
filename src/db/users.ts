/**
 * Reads recipients from the platform's users table, read-only, with the old service's query
 * (`SELECT email FROM users WHERE id = $1 AND is_active = true`); table and columns come from configuration.
 */
import type { Config } from '../config.js';
import type { Recipient } from '../email-types.js';
import { InvalidRecipientError, RecipientLookupError, RecipientNotFoundError } from '../errors.js';
import { bareMailbox } from '@email-workers/client/internal';
import { classifyPgError, toDatabaseError } from './pg-errors.js';
import type { Pool } from './pool.js';

export type UsersTable = Config['database']['users'];

export interface UserDirectory {
  findRecipient(userId: string | number): Promise<Recipient>;
  /** Runs the query on no rows: fails when the table or a column does not exist. */
  check(): Promise<void>;
}

const quote = (identifier: string) =>
  identifier
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');

export function buildRecipientQuery(users: UsersTable): string {
  const columns = [`${quote(users.emailColumn)} AS email`];
  if (users.nameColumn) columns.push(`${quote(users.nameColumn)} AS name`);
  // The parameter takes the id column's type, so integer and UUID ids both use the primary key's index.
  const where = ['id = $1'];
  if (users.activeColumn) where.push(`${quote(users.activeColumn)} = true`);
  return `SELECT ${columns.join(', ')} FROM ${quote(users.table)} WHERE ${where.join(' AND ')} LIMIT 1`;
}

export function createUserDirectory(pool: Pool, users: UsersTable): UserDirectory {
  const text = buildRecipientQuery(users);
  return {
    async findRecipient(userId) {
      let rows: Array<{ email: string | null; name?: string | null }>;
      try {
        ({ rows } = await pool.query({ name: 'find-recipient', text, values: [String(userId)] }));
      } catch (error) {
        // The id does not fit the column's type (a UUID for an integer id, or out of its range): no such user.
        const kind = classifyPgError(error);
        if (kind === 'value') throw new RecipientNotFoundError(userId);
        // The table or a column is missing; retrying cannot help until someone fixes USERS_*.
        if (kind === 'schema') {
          throw new RecipientLookupError(
            `users lookup failed (USERS_TABLE ${users.table}, USERS_*_COLUMN): ${(error as Error).message}`,
          );
        }
        throw toDatabaseError(error);
      }
      const row = rows[0];
      if (!row?.email) throw new RecipientNotFoundError(userId);
      // The platform's table is not ours to trust: a value holding two addresses would send one email to both.
      const email = bareMailbox(row.email);
      if (!email) throw new InvalidRecipientError(userId);
      return { email, name: row.name ?? undefined };
    },
    async check() {
      await pool.query(`SELECT * FROM (${text}) AS probe WHERE false`, [null]);
    },
  };
}
