/**
 * The `start-workers` process on SIGTERM: jobs in flight finish, and the process exits 0 within
 * SHUTDOWN_TIMEOUT_MS + 2 s whatever its jobs, its SMTP server or Redis do; jobs cut short go back to the queue
 * for another worker without an `unknown` row; a second signal exits at once.
 */
import { spawn } from 'node:child_process';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { startOwnRedis } from '../helpers/redis-server.js';
import { removePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { closedPort, startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, testEnv, smtpEnv } from '../helpers/workers.js';

let smtp: SmtpSink;
let db: TestSchema;
const prefix = uniquePrefix('shutdown');

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('shutdown');
});

afterAll(async () => {
  await smtp?.close();
  await removePrefix(prefix);
  await db?.drop();
});

function startCli(args: string[] = [], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/start-workers.ts', ...args], {
    env: { ...process.env, ...testEnv(prefix, { ...smtpEnv(smtp), ...env }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

describe('start-workers', () => {
  it('finishes the jobs in flight on SIGTERM and exits 0', async () => {
    const cli = startCli(['--queues', 'auth_emails']);
    await waitFor(() => cli.output().includes('workers started'), {
      timeoutMs: 20_000,
      what: 'workers started',
    });
    smtp.delayMs = 1_500;
    const queue = new Queue('auth_emails', { connection: { url: TEST_REDIS_URL }, prefix });
    try {
      const jobs = await Promise.all(
        [1, 2, 3].map((n) => queue.add('send_welcome_email', { email: `inflight-${n}@example.com` })),
      );
      await waitFor(() => smtp.transactions >= 3, { what: 'three sends in flight' });
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
      expect(smtp.messages).toHaveLength(3);
      for (const job of jobs) expect(await (await queue.getJob(job.id!))!.getState()).toBe('completed');
    } finally {
      smtp.delayMs = 0;
      await queue.close();
    }
  });

  it('exits 0 within SHUTDOWN_TIMEOUT_MS + 2 s though a reply takes 12 s; another worker sends the job once', async () => {
    const env = { ...databaseEnv(db), SHUTDOWN_TIMEOUT_MS: '1000' };
    const first = startCli(['--queues', 'booking_emails'], env);
    await waitFor(() => first.output().includes('workers started'), {
      timeoutMs: 20_000,
      what: 'workers started',
    });
    // The server holds its reply to MAIL FROM: the run is before DATA when the shutdown cuts it.
    smtp.stepDelayMs = 12_000;
    const queue = new Queue('booking_emails', { connection: { url: TEST_REDIS_URL }, prefix });
    try {
      const job = await queue.add(
        'send_booking_confirmation',
        { user_id: 1, email: 'cut-short@example.com', booking_data: { event_name: 'Cut short' } },
        { jobId: 'cut-short' },
      );
      await waitFor(async () => (await job.getState()) === 'active', { what: 'the job running' });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const signalled = Date.now();
      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(3_000);
      expect(first.output()).toMatch(/"cutShort":1\b.*shutdown complete/);
      expect(await job.getState()).toBe('waiting');

      smtp.stepDelayMs = 0;
      const second = startCli(['--queues', 'booking_emails'], env);
      try {
        await waitFor(async () => (await job.getState()) === 'completed', {
          timeoutMs: 20_000,
          what: 'job completed',
        });
      } finally {
        second.child.kill('SIGTERM');
        expect(await second.exited).toBe(0);
      }
      const { rows } = await db.pool.query(
        `SELECT status, attempts FROM ${db.schema}.email_deliveries WHERE job_id = 'cut-short'`,
      );
      // Released by the shutdown, claimed again by the other worker: sent, never unknown.
      expect(rows).toEqual([{ status: 'sent', attempts: 2 }]);
      expect(smtp.messages.filter((m) => m.subject?.includes('Cut short'))).toHaveLength(1);
    } finally {
      smtp.stepDelayMs = 0;
      await queue.close();
    }
  });

  it('exits 0 in time while Redis is down', async () => {
    const redis = await startOwnRedis();
    const cli = spawn(process.execPath, ['--import', 'tsx', 'src/cli/start-workers.ts'], {
      env: {
        ...process.env,
        ...testEnv(prefix, { ...smtpEnv(smtp), REDIS_URL: redis.url, SHUTDOWN_TIMEOUT_MS: '1000' }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    cli.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => output.includes('workers started'), {
        timeoutMs: 15_000,
        what: `workers started in ${output}`,
      });
      await redis.stop();
      await waitFor(() => output.includes('redis breaker open'), {
        what: `the Redis breaker open in ${output}`,
      });
      const signalled = Date.now();
      cli.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(3_000);
    } finally {
      cli.kill('SIGKILL');
      await redis.stop();
    }
  });

  it('exits 0 on SIGTERM during a start-up still waiting for Redis', async () => {
    const cli = startCli(['--queues', 'auth_emails'], {
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
    });
    await waitFor(() => cli.output().includes('templates compiled'), {
      timeoutMs: 20_000,
      what: 'start-up under way',
    });
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(cli.output()).toMatch(/stopped before start-up finished/);
  });

  it('exits at once on a second signal', async () => {
    const cli = startCli(['--queues', 'auth_emails'], { SHUTDOWN_TIMEOUT_MS: '30000' });
    await waitFor(() => cli.output().includes('workers started'), {
      timeoutMs: 20_000,
      what: 'workers started',
    });
    smtp.stepDelayMs = 20_000;
    const queue = new Queue('auth_emails', { connection: { url: TEST_REDIS_URL }, prefix });
    try {
      const job = await queue.add('send_welcome_email', { email: 'twice@example.com' });
      await waitFor(async () => (await job.getState()) === 'active', { what: 'the job running' });
      cli.child.kill('SIGTERM');
      await waitFor(() => cli.output().includes('shutting down'), { what: 'shutting down' });
      const signalled = Date.now();
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(143);
      expect(Date.now() - signalled).toBeLessThan(1_000);
      expect(cli.output()).toMatch(/second signal: exiting at once/);
    } finally {
      smtp.stepDelayMs = 0;
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('stops with one line per bad variable', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/start-workers.ts'], {
      env: { ...process.env, WORKER_CONCURRENCY: 'lots', SMTP_PORT: '99999', NODE_ENV: 'test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^ {2}WORKER_CONCURRENCY: /m);
    expect(stderr).toMatch(/^ {2}SMTP_PORT: /m);
  });
});
