/**
 * Reads recipients from the platform's users table, read-only, with the old service's query
 * (`SELECT email FROM users WHERE id = $1 AND is_active = true`); table and columns come from configuration.
 */
import type { Config } from '../config.js';
import type { Recipient } from '../email-types.js';
import { InvalidRecipientError, RecipientLookupError, RecipientNotFoundError } from '../errors.js';
import { bareMailbox } from '@email-workers/client/internal';
import { batched } from './batch.js';
import { classifyPgError, toDatabaseError } from './pg-errors.js';
import { statementName, type Pool } from './pool.js';

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

type UserRow = { email: string | null; name?: string | null };

/**
 * Lookups of concurrent jobs in one statement: the ids as an array of the id column's own type (so integer and UUID
 * ids alike use the primary key's index), each row tagged with its id's place in the array.
 */
export function buildRecipientsQuery(users: UsersTable, idType: string): string {
  const columns = ['x.n', `u.${quote(users.emailColumn)} AS email`];
  if (users.nameColumn) columns.push(`u.${quote(users.nameColumn)} AS name`);
  const active = users.activeColumn ? ` AND u.${quote(users.activeColumn)} = true` : '';
  return (
    `SELECT ${columns.join(', ')} FROM unnest($1::${idType}[]) WITH ORDINALITY AS x(id, n)` +
    ` JOIN ${quote(users.table)} AS u ON u.id = x.id${active}`
  );
}

export function createUserDirectory(pool: Pool, users: UsersTable): UserDirectory {
  const text = buildRecipientQuery(users);
  const name = statementName('find-recipient', text);
  const findOne = async (userId: string): Promise<UserRow | undefined> =>
    (await pool.query<UserRow>({ name, text, values: [userId] })).rows[0];
  // The id column's type, read once; unknown (a view without one, no rights to the catalog): one query per id.
  let manyText: Promise<{ text: string; name: string } | undefined> | undefined;
  const recipientsQuery = () =>
    (manyText ??= pool
      .query<{ type: string | null }>(
        `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
          WHERE attrelid = $1::regclass AND attname = 'id' AND NOT attisdropped`,
        [quote(users.table)],
      )
      .then(({ rows }) => {
        if (!rows[0]?.type) return undefined;
        const text = buildRecipientsQuery(users, rows[0].type);
        // Prepared once per connection; named for its text, as directories of other tables may share the pool.
        return {
          text,
          name: statementName('find-recipients', text),
        };
      })
      .catch(() => undefined));
  // An id that does not fit the column's type fails its batch; batched() then runs each id alone, so that error
  // is only ever that id's (findOne, below).
  const find = batched<string, UserRow | undefined>(async (ids) => {
    const many = ids.length > 1 ? await recipientsQuery() : undefined;
    if (!many) return Promise.all(ids.map(findOne));
    const { rows } = await pool.query<UserRow & { n: string }>({ ...many, values: [ids] });
    const found: Array<UserRow | undefined> = ids.map(() => undefined);
    for (const row of rows) found[Number(row.n) - 1] ??= row;
    return found;
  });
  return {
    async findRecipient(userId) {
      let row: UserRow | undefined;
      try {
        row = await find(String(userId));
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
