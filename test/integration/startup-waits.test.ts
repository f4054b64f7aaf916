/**
 * No job is taken before the ledger works: while Redis or PostgreSQL do not answer at start the workers say
 * "waiting for …" every 5 s and carry on once they answer — migrating first with MIGRATE_ON_START — and a ledger
 * table missing later is an outage someone must end (`start-workers migrate`), said at `fatal`, not a retry that
 * dead-letters the email.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../helpers/postgres.js';
import { startOwnRedis, type OwnRedis } from '../helpers/redis-server.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

let smtp: SmtpSink;
let db: TestSchema;
let proxy: TcpProxy;
let redis: OwnRedis;

beforeAll(async () => {
  [smtp, db, redis] = await Promise.all([startSmtpSink(), createTestSchema('waits'), startOwnRedis()]);
  await db.addUser({ id: 1, email: 'member@example.com' });
  proxy = await startTcpProxy(Number(new URL(TEST_DATABASE_URL).port || 5432));
});

afterAll(async () => {
  await redis?.stop();
  await proxy?.close();
  await smtp?.close();
  await db?.drop();
});

const proxiedDatabase = () => {
  const url = new URL(TEST_DATABASE_URL);
  url.port = String(proxy.port);
  return url.toString();
};

/** Starts the workers without awaiting them, and a way to read what they logged so far. */
function startInBackground(env: Record<string, string>) {
  let workers: TestWorkers | undefined;
  let failure: Error | undefined;
  const started = startTestWorkers('waits', { ...smtpEnv(smtp), ...env }, { queues: ['booking_emails'] });
  started.then(
    (w) => (workers = w),
    (error: Error) => (failure = error),
  );
  return {
    started,
    get workers() {
      return workers;
    },
    get failure() {
      return failure;
    },
  };
}

async function deliversABooking(w: TestWorkers, event: string) {
  const job = await w.queue('booking_emails').add('send_booking_confirmation', {
    user_id: 1,
    booking_data: { event_name: event },
  });
  expect(await job.waitUntilFinished(await w.events('booking_emails'), 15_000)).toMatchObject({
    success: true,
  });
}

async function stopAndDrop(w: TestWorkers, ledger: string) {
  await w.stop();
  await db.pool.query(`DROP SCHEMA IF EXISTS ${ledger} CASCADE`);
}

describe('at start', () => {
  it('waits for Redis, saying so every 5 s, and starts once it answers', async () => {
    await redis.stop();
    const ledger = `${db.schema}_redis_wait`;
    const pending = startInBackground({
      REDIS_URL: redis.url,
      DATABASE_URL: TEST_DATABASE_URL,
      USERS_TABLE: db.usersTable,
      LEDGER_SCHEMA: ledger,
    });
    // Longer than one "waiting" interval: still waiting, neither started nor failed.
    await new Promise((resolve) => setTimeout(resolve, 5_500));
    expect(pending.workers).toBeUndefined();
    expect(pending.failure).toBeUndefined();
    await redis.start();
    const w = await pending.started;
    try {
      expect(
        w.logs.filter((line) => /^waiting for Redis at redis:\/\/127\.0\.0\.1:\d+/.test(String(line.msg)))
          .length,
      ).toBeGreaterThanOrEqual(1);
      await deliversABooking(w, 'After Redis');
    } finally {
      await stopAndDrop(w, ledger);
    }
  }, 40_000);

  it('waits for PostgreSQL, then applies the migrations (MIGRATE_ON_START) before taking a job', async () => {
    proxy.cut();
    const ledger = `${db.schema}_pg_wait`;
    const pending = startInBackground({
      DATABASE_URL: proxiedDatabase(),
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
      USERS_TABLE: db.usersTable,
      LEDGER_SCHEMA: ledger,
      MIGRATE_ON_START: 'true',
    });
    await new Promise((resolve) => setTimeout(resolve, 5_500));
    expect(pending.workers).toBeUndefined();
    expect(pending.failure).toBeUndefined();
    proxy.restore();
    const w = await pending.started;
    try {
      expect(w.logs.some((line) => /^waiting for PostgreSQL at postgres:\/\//.test(String(line.msg)))).toBe(
        true,
      );
      expect(w.logs.find((line) => line.msg === 'migrations applied')).toMatchObject({ schema: ledger });
      await deliversABooking(w, 'After PostgreSQL');
    } finally {
      await stopAndDrop(w, ledger);
    }
  }, 40_000);
});

describe('a ledger table missing while running', () => {
  it('holds the email (said at fatal: run start-workers migrate) and sends it once migrated, none charged', async () => {
    const ledger = `${db.schema}_dropped`;
    const w = await startTestWorkers(
      'waits-dropped',
      {
        ...smtpEnv(smtp),
        DATABASE_URL: TEST_DATABASE_URL,
        USERS_TABLE: db.usersTable,
        LEDGER_SCHEMA: ledger,
        BREAKER_THRESHOLD: '2',
        BREAKER_PROBE_INTERVAL: '200ms',
      },
      { queues: ['booking_emails'] },
    );
    try {
      await db.pool.query(`DROP SCHEMA ${ledger} CASCADE`);
      const job = await w.queue('booking_emails').add('send_booking_confirmation', {
        user_id: 1,
        booking_data: { event_name: 'Dropped ledger' },
      });
      const fatal = await waitFor(
        () => w.logs.find((line) => line.level === 60 && line.breaker === 'database'),
        {
          what: 'the database breaker open at fatal',
        },
      );
      // The first of the service's tables an email touches: the suppression list, then the ledger.
      expect(String(fatal.reason)).toMatch(/(email_suppressions|email_deliveries).*start-workers migrate/);
      expect(await job.getState()).not.toBe('failed');
      await migrate(db.pool, ledger);
      expect(await job.waitUntilFinished(await w.events('booking_emails'), 15_000)).toMatchObject({
        success: true,
      });
      const { logs } = await w.queue('booking_emails').getJobLogs(job.id!);
      expect(logs.length).toBeGreaterThan(0);
      expect(logs.every((line) => /not charged: database outage/.test(line))).toBe(true);
    } finally {
      await w.stop();
      await db.pool.query(`DROP SCHEMA IF EXISTS ${ledger} CASCADE`);
    }
  });
});
