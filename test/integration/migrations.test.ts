/**
 * `start-workers migrate`: migrations run once however many replicas start at once, and workers refuse a
 * database that is behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/db/migrate.js';
import { StartupError } from '../../src/errors.js';
import { spawnCli } from '../helpers/cli.js';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../helpers/postgres.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startTestWorkers, smtpEnv, databaseEnv } from '../helpers/workers.js';

let db: TestSchema;
let smtp: SmtpSink;

beforeAll(async () => {
  db = await createTestSchema('migrations');
  smtp = await startSmtpSink();
});

afterAll(async () => {
  await smtp?.close();
  await db?.drop();
});

describe('migrations', () => {
  it('runs each migration once when two migrate processes start at once', async () => {
    const env = {
      DATABASE_URL: TEST_DATABASE_URL,
      LEDGER_SCHEMA: `${db.schema}_ledger`,
      REDIS_URL: TEST_REDIS_URL,
    };
    try {
      const runs = [spawnCli(['migrate'], env), spawnCli(['migrate'], env)];
      expect(await Promise.all(runs.map((run) => run.exited))).toEqual([0, 0]);
      const { rows } = await db.pool.query(
        `SELECT name FROM ${db.schema}_ledger.schema_migrations ORDER BY name`,
      );
      expect(rows.map((row) => row.name)).toEqual(readMigrations().map((m) => m.name));
      expect(runs.map((run) => run.stdout()).join('\n')).toMatch(/up to date/);
    } finally {
      await db.pool.query(`DROP SCHEMA IF EXISTS ${db.schema}_ledger CASCADE`);
    }
  });

  it('keeps workers from starting on a database that lacks a migration', async () => {
    const started = startTestWorkers('unmigrated', {
      ...smtpEnv(smtp),
      DATABASE_URL: TEST_DATABASE_URL,
      USERS_TABLE: db.usersTable,
      LEDGER_SCHEMA: `${db.schema}_behind`,
      MIGRATE_ON_START: 'false',
    });
    await expect(started).rejects.toThrow(StartupError);
    await expect(started).rejects.toThrow(
      /lacks migrations 0001_create_email_deliveries, 0002_\w+(, \d{4}_\w+)* .*start-workers migrate/,
    );
  });

  it('applies pending migrations at start with MIGRATE_ON_START=true', async () => {
    const w = await startTestWorkers('migrate-on-start', {
      ...smtpEnv(smtp),
      ...databaseEnv(db),
      MIGRATE_ON_START: 'true',
    });
    try {
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${db.schema}.schema_migrations`);
      expect(rows[0].n).toBe(readMigrations().length);
    } finally {
      await w.stop();
    }
  });
});
