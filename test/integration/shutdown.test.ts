/**
 * The `start-workers` process: SIGTERM with jobs in flight lets them finish and exits 0.
 */
import { spawn } from 'node:child_process';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { testEnv, smtpEnv } from '../helpers/workers.js';

let smtp: SmtpSink;
const prefix = uniquePrefix('shutdown');

beforeAll(async () => {
  smtp = await startSmtpSink();
});

afterAll(async () => {
  await smtp?.close();
  await removePrefix(prefix);
});

function startCli(args: string[] = []) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/start-workers.ts', ...args], {
    env: { ...process.env, ...testEnv(prefix, { ...smtpEnv(smtp) }) },
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
