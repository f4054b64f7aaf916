/**
 * Reads recipients from the platform's users table, read-only, with the old service's query
 * (`SELECT email FROM users WHERE id = $1 AND is_active = true`); table and columns come from configuration.
 */
import type { Config } from '../config.js';
import { InvalidRecipientError, RecipientLookupError, RecipientNotFoundError } from '../errors.js';
import { bareMailbox } from '../mailbox.js';
import { toDatabaseError, type Pool } from './pool.js';

export type UsersTable = Config['database']['users'];

/** A recipient as the task contract knows it (declared here too: db/ does not import tasks/). */
export interface Recipient {
  email: string;
  name?: string | undefined;
}

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
        // The id does not fit the column's type (22P02: a UUID for an integer id; 22003: out of its range):
        // no such user can exist.
        const code = (error as { code?: string }).code;
        if (code === '22P02' || code === '22003') throw new RecipientNotFoundError(userId);
        // 42P01/42703: the table or a column is missing; retrying cannot help until someone fixes it.
        if (code === '42P01' || code === '42703') {
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
