/**
 * The tests need a PostgreSQL. They use TEST_DATABASE_URL, else the one on 127.0.0.1:5432 (database `test`);
 * when that does not answer (a fresh machine with only Node and Redis) or TEST_DATABASE=embedded, they start
 * the embedded PostgreSQL the service itself uses in development, for the whole run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answers, startEmbeddedDatabase } from '../src/db/embedded.js';
import { closedPort } from './helpers/smtp-sink.js';

const LOCAL = 'postgres://postgres@127.0.0.1:5432/test';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.TEST_DATABASE_URL) return undefined;
  if (process.env.TEST_DATABASE !== 'embedded' && (await answers(LOCAL))) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'email-workers-test-pg-'));
  const database = await startEmbeddedDatabase({ dir: join(dir, 'data'), port: await closedPort() });
  // Set before vitest forks the test processes, which inherit it.
  process.env.TEST_DATABASE_URL = database.url;
  console.log(`tests use an embedded PostgreSQL (${database.url.replace(/:[^:@]*@/, ':***@')})`);
  return async () => {
    await database.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
