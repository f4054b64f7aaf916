/**
 * Recipient lookups of concurrent jobs go in one statement (issue 13): each lookup still gets its own answer —
 * found, inactive, missing, or an id the column's type cannot hold — whatever else is in its batch, for integer
 * and UUID ids alike.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserDirectory } from '../../src/db/users.js';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../helpers/postgres.js';

let integers: TestSchema;
let uuids: TestSchema;
const pools: pg.Pool[] = [];
/** The statements each pool ran: lookups that shared one show as fewer statements than lookups. */
const statements = new Map<pg.Pool, string[]>();
const ids = Array.from({ length: 4 }, () => randomUUID());

beforeAll(async () => {
  integers = await createTestSchema('batches');
  uuids = await createTestSchema('batches_uuid', 'uuid');
  for (let id = 1; id <= 40; id++) {
    await integers.addUser({ id, email: `user${id}@example.com`, is_active: id % 10 !== 0 });
  }
  for (const [n, id] of ids.entries()) await uuids.addUser({ id, email: `uuid${n}@example.com` });
});

/** Few connections, so that lookups wait for one another and go in batches; one pool per table, as in a worker. */
function smallPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  pools.push(pool);
  const texts: string[] = [];
  statements.set(pool, texts);
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    const config = args[0] as string | { text: string };
    texts.push(typeof config === 'string' ? config : config.text);
    return query(...args);
  }) as typeof pool.query;
  return pool;
}

afterAll(async () => {
  for (const pool of pools) await pool.end();
  await integers?.drop();
  await uuids?.drop();
});

const users = (table: string) => ({
  table,
  emailColumn: 'email',
  activeColumn: 'is_active',
  nameColumn: undefined,
});

const outcome = (promise: Promise<{ email: string }>) =>
  promise.then(
    (recipient) => recipient.email,
    (error: Error & { code?: string }) => error.code,
  );

describe('recipient lookups in batches', () => {
  it('answers each of many concurrent lookups for itself, in fewer statements than lookups', async () => {
    const pool = smallPool();
    const directory = createUserDirectory(pool, users(integers.usersTable));
    const asked: Array<string | number> = [];
    for (let id = 1; id <= 45; id++) asked.push(id % 3 === 0 ? String(id).padStart(3, '0') : id);
    const results = await Promise.all(asked.map((id) => outcome(directory.findRecipient(id))));
    expect(results).toEqual(
      asked.map((id) => {
        const n = Number(id);
        return n > 40 || n % 10 === 0 ? 'RECIPIENT_NOT_FOUND' : `user${n}@example.com`;
      }),
    );
    const ran = statements.get(pool)!.filter((text) => !text.includes('pg_attribute'));
    expect(ran.some((text) => text.includes('unnest'))).toBe(true);
    expect(ran.length).toBeLessThan(asked.length);
  });

  it('answers each lookup for itself when ids the column cannot hold share its batch', async () => {
    const directory = createUserDirectory(smallPool(), users(integers.usersTable));
    const asked = [1, 'not-a-number', 2, '99999999999', randomUUID(), 10, 7, 99];
    const results = await Promise.all(asked.map((id) => outcome(directory.findRecipient(id))));
    expect(results).toEqual([
      'user1@example.com',
      'RECIPIENT_NOT_FOUND',
      'user2@example.com',
      'RECIPIENT_NOT_FOUND',
      'RECIPIENT_NOT_FOUND',
      'RECIPIENT_NOT_FOUND',
      'user7@example.com',
      'RECIPIENT_NOT_FOUND',
    ]);
  });

  it('finds UUID ids in a batch too', async () => {
    const directory = createUserDirectory(smallPool(), users(uuids.usersTable));
    const asked = [...ids, randomUUID(), '12', ...ids.map((id) => id.toUpperCase())];
    const results = await Promise.all(asked.map((id) => outcome(directory.findRecipient(id))));
    expect(results).toEqual([
      ...ids.map((_, n) => `uuid${n}@example.com`),
      'RECIPIENT_NOT_FOUND',
      'RECIPIENT_NOT_FOUND',
      ...ids.map((_, n) => `uuid${n}@example.com`),
    ]);
  });
});
