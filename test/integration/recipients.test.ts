/**
 * Finding the recipient of a `user_id` task in PostgreSQL, as the USERS_* settings describe the table: UUID ids,
 * a name column for the greeting, no active filter, another address column; ids the column cannot hold; and a
 * database that is down.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../helpers/postgres.js';
import { deliver, failedJob, recipientOf } from '../helpers/jobs.js';
import { closedPort, startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startTestWorkers, type TestWorkers, smtpEnv } from '../helpers/workers.js';

const UUID_USER = randomUUID();

/** Values a users table may hold that are not one bare mailbox, each able to reach a second recipient. */
const UNSAFE_ADDRESSES: Record<number, string> = {
  7: 'member7@example.com, outsider@elsewhere.example',
  8: 'grp: member8@example.com, outsider@elsewhere.example;',
  9: 'Member Nine <member9@example.com>',
  10: 'member10@example.com\r\nBcc: outsider@elsewhere.example',
  11: 'member11@example.com (outsider@elsewhere.example)',
};

let smtp: SmtpSink;
let db: TestSchema;
let uuidDb: TestSchema;
/** Workers on the UUID table. */
let uuidIds: TestWorkers;
/** Workers on the integer table with USERS_NAME_COLUMN=full_name. */
let named: TestWorkers;
/** Workers on the integer table with USERS_ACTIVE_COLUMN empty. */
let allRows: TestWorkers;
/** Workers on a `contacts` table whose address column is `contact_email`. */
let contacts: TestWorkers;
/** Workers whose DATABASE_URL points at a port where nothing listens, with the ledger off. */
let databaseDown: TestWorkers;

beforeAll(async () => {
  smtp = await startSmtpSink();
  [db, uuidDb] = await Promise.all([
    createTestSchema('recipients'),
    createTestSchema('recipients_uuid', 'uuid'),
  ]);
  await uuidDb.addUser({ id: UUID_USER, email: 'uuid@example.com' });
  await db.addUser({ id: 1, email: 'grace@example.com', full_name: 'Grace Hopper' });
  await db.addUser({ id: 2, email: 'inactive@example.com', is_active: false });
  for (const [id, email] of Object.entries(UNSAFE_ADDRESSES)) await db.addUser({ id: Number(id), email });
  await db.pool.query(
    `CREATE TABLE ${db.schema}.contacts (id integer PRIMARY KEY, contact_email text, is_active boolean)`,
  );
  await db.pool.query(`INSERT INTO ${db.schema}.contacts VALUES (3, 'contact@example.com', true)`);

  const onIntegerIds = () => ({ USERS_TABLE: db.usersTable, LEDGER_SCHEMA: db.schema });
  const start = (label: string, env: Record<string, string>) =>
    startTestWorkers(
      label,
      { ...smtpEnv(smtp), DATABASE_URL: TEST_DATABASE_URL, ...env },
      { queues: ['auth_emails', 'booking_emails'] },
    );
  [uuidIds, named, allRows, contacts, databaseDown] = await Promise.all([
    start('recipients-uuid', { USERS_TABLE: uuidDb.usersTable, LEDGER_SCHEMA: uuidDb.schema }),
    start('recipients-named', { ...onIntegerIds(), USERS_NAME_COLUMN: 'full_name' }),
    start('recipients-all', { ...onIntegerIds(), USERS_ACTIVE_COLUMN: '' }),
    start('recipients-contacts', {
      ...onIntegerIds(),
      USERS_TABLE: `${db.schema}.contacts`,
      USERS_EMAIL_COLUMN: 'contact_email',
    }),
    start('recipients-down', {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${await closedPort()}/test`,
      DATABASE_CONNECT_TIMEOUT_MS: '500',
      // With the ledger on, every email waits for the database (ledger.test.ts); off, only user_id lookups do.
      LEDGER_ENABLED: 'false',
      BREAKER_MAX_OUTAGE: '3s',
      BREAKER_PROBE_INTERVAL: '200ms',
    }),
  ]);
});

afterAll(async () => {
  await Promise.all([uuidIds, named, allRows, contacts, databaseDown].map((w) => w?.stop()));
  await smtp?.close();
  await Promise.all([db?.drop(), uuidDb?.drop()]);
});

const booking = (user_id: string | number) => ({ user_id, booking_data: { event_name: 'RustConf' } });

describe('a user_id task', () => {
  it('is delivered to a user whose id is a UUID', async () => {
    const { mail, result } = await deliver(
      uuidIds,
      smtp,
      'booking_emails',
      'send_booking_confirmation',
      booking(UUID_USER),
    );
    expect(recipientOf(mail)).toBe('uuid@example.com');
    expect(result).toMatchObject({ success: true, user_id: UUID_USER });
  });

  it('greets the user with the name in USERS_NAME_COLUMN', async () => {
    const { mail } = await deliver(named, smtp, 'booking_emails', 'send_booking_confirmation', booking(1));
    expect(mail.html).toContain('Hi Grace Hopper,');
    expect(mail.text).toContain('Hi Grace Hopper,');
  });

  it('is sent to an inactive user when USERS_ACTIVE_COLUMN is empty', async () => {
    const { mail } = await deliver(allRows, smtp, 'booking_emails', 'send_booking_confirmation', booking(2));
    expect(recipientOf(mail)).toBe('inactive@example.com');
  });

  it('is sent to the address in USERS_EMAIL_COLUMN of USERS_TABLE', async () => {
    const { mail } = await deliver(contacts, smtp, 'booking_emails', 'send_booking_confirmation', booking(3));
    expect(recipientOf(mail)).toBe('contact@example.com');
  });
});

describe('an address in the users table that is not one bare mailbox', () => {
  it.each(Object.entries(UNSAFE_ADDRESSES))('fails user %s at once without sending (%j)', async (id) => {
    const before = smtp.messages.length;
    const job = await named.queue('booking_emails').add('send_booking_confirmation', booking(Number(id)));
    const dead = await failedJob(named, job);
    expect(dead.failedReason).toBe(`user ${id} has no valid email address`);
    expect(dead.attemptsStarted).toBe(1);
    expect(smtp.messages.length).toBe(before);
    expect(smtp.messages.flatMap((m) => (m.to && 'value' in m.to ? m.to.value : []))).not.toContainEqual(
      expect.objectContaining({ address: 'outsider@elsewhere.example' }),
    );
  });

  it('is sent to an address with spaces around it, trimmed', async () => {
    await db.addUser({ id: 12, email: '  padded@example.com ' });
    const { mail } = await deliver(named, smtp, 'booking_emails', 'send_booking_confirmation', booking(12));
    expect(recipientOf(mail)).toBe('padded@example.com');
  });
});

describe('a user_id the id column cannot hold', () => {
  it('fails a numeric id against UUID ids at once as not found', async () => {
    const job = await uuidIds.queue('booking_emails').add('send_booking_confirmation', booking(7));
    const dead = await failedJob(uuidIds, job);
    expect(dead.failedReason).toBe('user 7 not found or inactive');
    expect(dead.attemptsStarted).toBe(1);
  });

  it('fails an id beyond the integer range at once as not found', async () => {
    // PostgreSQL answers 22003 (out of range) here, not 22P02 (invalid text): both mean there is no such user.
    const job = await named.queue('booking_emails').add('send_booking_confirmation', booking('99999999999'));
    const dead = await failedJob(named, job);
    expect(dead.failedReason).toBe('user 99999999999 not found or inactive');
    expect(dead.attemptsStarted).toBe(1);
  });
});

describe('with the database down and the ledger off', () => {
  it('turns a user_id task back without using its attempts, and fails it only past BREAKER_MAX_OUTAGE', async () => {
    const job = await databaseDown.queue('booking_emails').add('send_booking_confirmation', booking(1));
    const dead = await failedJob(databaseDown, job);
    // More runs than the 4 attempts MAX_RETRIES allows: none of them was charged.
    expect(dead.attemptsStarted).toBeGreaterThan(4);
    expect(dead.failedReason).toMatch(
      /^database unavailable for 3s \(BREAKER_MAX_OUTAGE\): database unavailable/,
    );
    const { logs } = await databaseDown.queue('booking_emails').getJobLogs(job.id!);
    expect(
      logs.slice(0, -1).every((line) => /\(not charged: database outage; retry in \d+ ms\)$/.test(line)),
    ).toBe(true);
    expect(logs.at(-1)).toMatch(/^failed \(OUTAGE_TOO_LONG\): database unavailable for 3s/);
  });

  it('still delivers the tasks addressed by email on the same workers', async () => {
    await databaseDown.queue('booking_emails').add('send_booking_confirmation', booking(1));
    const [byEmail, welcome] = await Promise.all([
      deliver(databaseDown, smtp, 'booking_emails', 'send_booking_confirmation', {
        ...booking(1),
        email: 'direct@example.com',
      }),
      deliver(databaseDown, smtp, 'auth_emails', 'send_welcome_email', { email: 'welcome@example.com' }),
    ]);
    expect(recipientOf(byEmail.mail)).toBe('direct@example.com');
    expect(recipientOf(welcome.mail)).toBe('welcome@example.com');
  });
});
