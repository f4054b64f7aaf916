/**
 * The tests need a PostgreSQL. They use TEST_DATABASE_URL, else the one on 127.0.0.1:5432 (database `test`);
 * when that does not answer (a fresh machine with only Node and Redis) or TEST_DATABASE=embedded, they start
 * the embedded PostgreSQL the service itself uses in development, for the whole run.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { answers, startEmbeddedDatabase } from '../src/db/embedded.js';
import { closedPort } from './helpers/smtp-sink.js';

const LOCAL = 'postgres://postgres@127.0.0.1:5432/test';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  buildClientPackage();
  if (process.env.TEST_DATABASE_URL) return undefined;
  if (process.env.TEST_DATABASE !== 'embedded' && (await answers(LOCAL))) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'email-workers-test-pg-'));
  // Reachable by the postgres user when run as root (mkdtemp makes it 0700), so the data stays in it and goes with it.
  chmodSync(dir, 0o755);
  const database = await startEmbeddedDatabase({ dir: join(dir, 'data'), port: await closedPort() });
  // Set before vitest forks the test processes, which inherit it.
  process.env.TEST_DATABASE_URL = database.url;
  console.log(`tests use an embedded PostgreSQL (${database.url.replace(/:[^:@]*@/, ':***@')})`);
  return async () => {
    await database.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * Everything, the tests and the processes they start with tsx, imports the client package as its users do, from
 * its build (packages/client/dist): compile it first, so no test runs a stale one.
 */
function buildClientPackage(): void {
  // Its own build (declarations by tsc, the JavaScript bundled by esbuild), as `npm pack` and the image run it.
  execFileSync(process.execPath, [resolve(import.meta.dirname, '../packages/client/build.mjs')], {
    stdio: 'inherit',
  });
}
