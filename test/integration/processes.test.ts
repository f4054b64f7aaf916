/**
 * `start-workers --processes N`: N worker processes under one supervisor, as real processes against the real
 * Redis and an SMTP sink. Each email is sent once, by both processes; a killed process is started again; a crash
 * loop ends the supervisor with a clear error; SIGTERM stops every process and exits 0; one HEALTH_PORT answers
 * for all.
 */
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { smtpEnv, testEnv } from '../helpers/workers.js';

let smtp: SmtpSink;
const prefixes: string[] = [];

beforeAll(async () => {
  smtp = await startSmtpSink();
});

afterAll(async () => {
  await smtp?.close();
  for (const prefix of prefixes) await removePrefix(prefix);
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

type LogLine = Record<string, unknown> & { msg?: string; pid?: number };

function startSupervisor(args: string[], env: Record<string, string> = {}) {
  const prefix = uniquePrefix('processes');
  prefixes.push(prefix);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/start-workers.ts', ...args], {
    env: {
      ...process.env,
      ...testEnv(prefix, { ...smtpEnv(smtp), LEDGER_ENABLED: 'false', LOG_LEVEL: 'info', ...env }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = (): LogLine[] =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  const started = () => lines().filter((line) => line.msg === 'worker process started');
  const workersUp = () => lines().filter((line) => line.msg === 'workers started');
  const queue = new Queue('auth_emails', { connection: { url: TEST_REDIS_URL }, prefix });
  return { child, exited, output: () => output, lines, started, workersUp, queue, prefix };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function sendBatch(queue: Queue, label: string, count: number): Promise<string[]> {
  const emails = Array.from({ length: count }, (_, n) => `${label}-${n}@example.com`);
  await queue.addBulk(emails.map((email) => ({ name: 'send_welcome_email', data: { email } })));
  return emails;
}

const delivered = (email: string) =>
  smtp.messages.filter((message) => message.to && JSON.stringify(message.to).includes(email)).length;

describe('start-workers --processes', () => {
  it(
    'runs two processes that both send, each email once; one /health and one /metrics for all; SIGTERM stops all with exit 0',
    { timeout: 180_000 },
    async () => {
      const port = await freePort();
      const run = startSupervisor(['--processes', '2', '--queues', 'auth_emails'], {
        HEALTH_PORT: String(port),
        SHUTDOWN_TIMEOUT_MS: '2000',
      });
      try {
        await waitFor(() => run.workersUp().length === 2, {
          timeoutMs: 60_000,
          what: 'two processes started',
        });
        smtp.delayMs = 100; // keeps jobs in flight, so both processes take some
        const emails = await sendBatch(run.queue, 'pair', 60);
        await waitFor(() => emails.every((email) => delivered(email) === 1), {
          timeoutMs: 60_000,
          what: 'the batch delivered',
        });
        smtp.delayMs = 0;
        for (const email of emails) expect(delivered(email)).toBe(1);
        const senders = new Set(
          run
            .lines()
            .filter((line) => line.outcome === 'sent')
            .map((line) => line.pid),
        );
        const pids = run.started().map((line) => line.pid as number);
        expect([...senders].sort()).toEqual([...pids].sort());

        const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as {
          processes: Array<{ pid: number; running: boolean }>;
        };
        expect(health.processes.map((p) => p.pid).sort()).toEqual([...pids].sort());
        expect(health.processes.every((p) => p.running)).toBe(true);
        const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
        expect(ready.status).toBe(200);
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        // The processes' counters summed: every email of the batch, once.
        expect(metrics).toMatch(/^email_jobs_completed_total\{task="send_welcome_email"\} 60$/m);
        expect(metrics).toMatch(/^email_worker_processes 2$/m);

        run.child.kill('SIGTERM');
        expect(await run.exited).toBe(0);
        for (const pid of pids) expect(alive(pid)).toBe(false);
      } finally {
        smtp.delayMs = 0;
        run.child.kill('SIGKILL');
        await run.queue.close();
      }
    },
  );

  it('starts a process killed with SIGKILL again, and the work goes on', { timeout: 180_000 }, async () => {
    const run = startSupervisor(['--processes', '2', '--queues', 'auth_emails']);
    try {
      await waitFor(() => run.workersUp().length === 2, { timeoutMs: 60_000, what: 'two processes started' });
      const victim = run.started()[0]!.pid as number;
      process.kill(victim, 'SIGKILL');
      await waitFor(() => run.started().length === 3, { timeoutMs: 60_000, what: 'a process started again' });
      expect(run.output()).toContain('worker process exited unasked: starting it again');
      await waitFor(() => run.workersUp().length === 3, { timeoutMs: 60_000, what: 'its workers up' });
      const emails = await sendBatch(run.queue, 'after-kill', 20);
      await waitFor(() => emails.every((email) => delivered(email) === 1), {
        timeoutMs: 60_000,
        what: 'the batch delivered after the kill',
      });
      const restarted = run.started()[2]!.pid as number;
      expect(restarted).not.toBe(victim);
      expect(alive(restarted)).toBe(true);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
      await run.queue.close();
    }
  });

  it('gives up with a clear error when a process crashes in a loop', { timeout: 240_000 }, async () => {
    // Every process takes a job and kills itself before sending it: each start crashes at once.
    const run = startSupervisor(['--processes', '2', '--queues', 'auth_emails', '--concurrency', '1'], {
      CHAOS_CRASH_POINT: 'before-send',
    });
    try {
      await sendBatch(run.queue, 'loop', 40);
      const code = await run.exited;
      expect(code).toBe(1);
      expect(run.output()).toMatch(
        /start-workers: worker process \d crashed 5 times in a row, each within 60 s of its start \(last: killed by SIGKILL\); giving up/,
      );
      for (const line of run.started()) expect(alive(line.pid as number)).toBe(false);
    } finally {
      run.child.kill('SIGKILL');
      await run.queue.close();
    }
  });

  it('refuses a bad --processes or WORKER_PROCESSES in one line', { timeout: 60_000 }, async () => {
    const flag = startSupervisor(['--processes', 'many']);
    expect(await flag.exited).toBe(1);
    expect(flag.output()).toContain('--processes: expected auto or an integer from 1 to 64, got "many"');
    await flag.queue.close();
    const variable = startSupervisor([], { WORKER_PROCESSES: '0' });
    expect(await variable.exited).toBe(1);
    expect(variable.output()).toContain('WORKER_PROCESSES');
    await variable.queue.close();
  });
});
