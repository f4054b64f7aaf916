/**
 * Plain SQL migrations from `migrations/NNNN_name.sql`, applied in order, each in its own transaction, and
 * recorded in `<schema>.schema_migrations`. Replicas that start at once are serialised by an advisory lock, so
 * each migration runs once. The platform's own tables (users) are never touched.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

export const MIGRATIONS_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../migrations');

export interface Migration {
  name: string;
  sql: string;
}

export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({ name: file.replace(/\.sql$/, ''), sql: readFileSync(join(dir, file), 'utf8') }));
}

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

/** Names of the migrations not yet applied to `schema` (all of them when the schema does not exist). */
export async function pendingMigrations(
  pool: pg.Pool,
  schema: string,
  migrations: Migration[] = readMigrations(),
): Promise<string[]> {
  const { rows } = await pool.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [
    `${quote(schema)}.schema_migrations`,
  ]);
  if (!rows[0]?.exists) return migrations.map((m) => m.name);
  const applied = await pool.query<{ name: string }>(`SELECT name FROM ${quote(schema)}.schema_migrations`);
  const done = new Set(applied.rows.map((row) => row.name));
  return migrations.map((m) => m.name).filter((name) => !done.has(name));
}

/** Applies what is pending and returns the names applied by this call. */
export async function migrate(
  pool: pg.Pool,
  schema: string,
  migrations: Migration[] = readMigrations(),
): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    // Session-level lock on a key of our own: a second replica waits here, then finds nothing left to do.
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`email-workers:migrate:${schema}`]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(schema)}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${quote(schema)}.schema_migrations (
           name text PRIMARY KEY,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const done = new Set(
        (
          await client.query<{ name: string }>(`SELECT name FROM ${quote(schema)}.schema_migrations`)
        ).rows.map((row) => row.name),
      );
      for (const migration of migrations) {
        if (done.has(migration.name)) continue;
        await client.query('BEGIN');
        try {
          await client.query(`SET LOCAL search_path TO ${quote(schema)}`);
          await client.query(migration.sql);
          await client.query(`INSERT INTO ${quote(schema)}.schema_migrations (name) VALUES ($1)`, [
            migration.name,
          ]);
          await client.query('COMMIT');
          applied.push(migration.name);
        } catch (error) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`, {
            cause: error,
          });
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`email-workers:migrate:${schema}`]);
    }
  } finally {
    client.release();
  }
  return applied;
}
