/**
 * `start-workers seed-users`: development only. Gives the embedded database a small `users` table shaped like
 * the platform's, so tasks addressed by `user_id` can be tried at once. A configured database (the platform's)
 * is never touched.
 */
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config.js';
import { openDatabase } from '../db/open-database.js';
import { UsageError } from './usage-error.js';

export const SAMPLE_USERS = [
  { id: 1, email: 'ada@example.com', full_name: 'Ada Lovelace', is_active: true },
  { id: 2, email: 'grace@example.com', full_name: 'Grace Hopper', is_active: true },
  { id: 3, email: 'alan@example.com', full_name: 'Alan Turing', is_active: true },
  { id: 4, email: 'inactive@example.com', full_name: 'Ina Active', is_active: false },
] as const;

export async function run(argv: string[]): Promise<number> {
  parseArgs({ args: argv, options: {}, strict: true });
  return seedUsers(loadConfig());
}

export async function seedUsers(config: Config): Promise<number> {
  if (config.env === 'production' || config.database.url || !config.database.embedded) {
    throw new UsageError(
      'seed-users only seeds the embedded development database (no DATABASE_URL, not production)',
    );
  }
  const database = await openDatabase(config);
  if (!database) throw new UsageError('seed-users: no embedded database');
  try {
    await database.pool.query(
      `CREATE TABLE IF NOT EXISTS users (
         id integer PRIMARY KEY,
         email text NOT NULL UNIQUE,
         full_name text,
         is_active boolean NOT NULL DEFAULT true
       )`,
    );
    for (const user of SAMPLE_USERS) {
      await database.pool.query(
        `INSERT INTO users (id, email, full_name, is_active) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, full_name = EXCLUDED.full_name,
           is_active = EXCLUDED.is_active`,
        [user.id, user.email, user.full_name, user.is_active],
      );
    }
    process.stdout.write(
      `seeded ${SAMPLE_USERS.length} users in the embedded database (${database.embedded?.dir}):\n` +
        SAMPLE_USERS.map((u) => `  ${u.id}  ${u.email}${u.is_active ? '' : '  (inactive)'}\n`).join(''),
    );
    return 0;
  } finally {
    await database.close();
  }
}
