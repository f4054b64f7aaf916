import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestSchema {
  /** Schema-qualified name of the test's users table, for USERS_TABLE. */
  usersTable: string;
  schema: string;
  pool: pg.Pool;
  addUser(user: {
    id?: number | string;
    email: string;
    is_active?: boolean;
    full_name?: string;
  }): Promise<void>;
  drop(): Promise<void>;
}

/**
 * A schema of this test file's own with a `users` table shaped like the platform's (integer ids unless
 * `idType` says uuid), dropped by `drop()`; on the tests' PostgreSQL unless `url` names another.
 */
export async function createTestSchema(
  label: string,
  idType: 'integer' | 'uuid' = 'integer',
  url: string = TEST_DATABASE_URL,
): Promise<TestSchema> {
  const schema = `test_${label}_${randomBytes(4).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // A server restarted under the pool (the chaos suite does that) drops idle clients: not a test failure.
  pool.on('error', () => undefined);
  await pool.query(`CREATE SCHEMA ${schema}`);
  await pool.query(
    `CREATE TABLE ${schema}.users (
       id ${idType === 'uuid' ? 'uuid' : 'integer'} PRIMARY KEY,
       email text NOT NULL,
       is_active boolean NOT NULL DEFAULT true,
       full_name text
     )`,
  );
  return {
    schema,
    usersTable: `${schema}.users`,
    pool,
    async addUser({ id, email, is_active = true, full_name }) {
      await pool.query(
        `INSERT INTO ${schema}.users (id, email, is_active, full_name) VALUES ($1, $2, $3, $4)`,
        [id, email, is_active, full_name ?? null],
      );
    },
    async drop() {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
    },
  };
}
