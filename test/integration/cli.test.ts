/**
 * The `start-workers` command line: `--help` documents flags, variables and examples; bad usage exits 1 with a
 * hint; `--queues` limits the process to the queues named.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type RunningCli } from '../helpers/cli.js';
import { recipientOf } from '../helpers/jobs.js';
import { removePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { testEnv, smtpEnv } from '../helpers/workers.js';

describe('start-workers --help', () => {
  let help: RunningCli;
  let code: number | null;

  beforeAll(async () => {
    help = spawnCli(['--help']);
    code = await help.exited;
  });

  it('exits 0 with the usage line', () => {
    expect(code).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: start-workers /);
  });

  it('lists every flag', () => {
    for (const flag of ['--queues', '--concurrency', '--name', '--monitor', '--help']) {
      expect(help.stdout()).toContain(flag);
    }
  });

  it('lists the bridge commands and their flags', () => {
    for (const word of ['celery-bridge', 'stream-bridge', '--celery-bridge', '--stream', '--block-timeout']) {
      expect(help.stdout()).toContain(word);
    }
  });

  it('lists the environment variables', () => {
    for (const variable of ['REDIS_URL', 'SMTP_HOST', 'MAX_RETRIES', 'DATABASE_URL', 'EVENTS_MAX_LEN']) {
      expect(help.stdout()).toMatch(new RegExp(`\\b${variable}\\b`));
    }
  });

  it('shows examples', () => {
    expect(help.stdout()).toMatch(/^Examples:\n {2}start-workers /m);
  });
});

describe('.env', () => {
  it('is read from the working directory, one line per bad variable, and the environment wins', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dotenv-'));
    try {
      writeFileSync(join(dir, '.env'), 'WORKER_CONCURRENCY=lots\nSMTP_PORT=99999\n');
      const fromFile = spawnCli([], {}, dir);
      expect(await fromFile.exited).toBe(1);
      expect(fromFile.stderr()).toMatch(/^ {2}WORKER_CONCURRENCY: /m);
      expect(fromFile.stderr()).toMatch(/^ {2}SMTP_PORT: /m);

      const overridden = spawnCli([], { WORKER_CONCURRENCY: '5' }, dir);
      expect(await overridden.exited).toBe(1);
      expect(overridden.stderr()).not.toMatch(/WORKER_CONCURRENCY/);
      expect(overridden.stderr()).toMatch(/^ {2}SMTP_PORT: /m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad usage', () => {
  it('exits 1 naming the known queues for an unknown queue', async () => {
    const cli = spawnCli(['--queues', 'nope']);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toMatch(/unknown queue nope/);
    expect(cli.stderr()).toMatch(/auth_emails, booking_emails, waitlist_emails, system/);
  });

  it('exits 1 for a concurrency of 0', async () => {
    const cli = spawnCli(['--concurrency', '0']);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toMatch(/--concurrency: expected an integer from 1/);
  });

  it('exits 1 for an unknown flag and suggests --help', async () => {
    const cli = spawnCli(['--bogus']);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toMatch(/--bogus/);
    expect(cli.stderr()).toMatch(/Try start-workers --help/);
  });
});

describe('start-workers --queues booking_emails', () => {
  const prefix = uniquePrefix('cli');
  let smtp: SmtpSink;
  let cli: RunningCli | undefined;
  const queues: Queue[] = [];
  const producer = (name: string) => {
    const queue = new Queue(name, { connection: { url: TEST_REDIS_URL }, prefix });
    queues.push(queue);
    return queue;
  };

  beforeAll(async () => {
    smtp = await startSmtpSink();
  });

  afterAll(async () => {
    if (cli?.child.exitCode === null) cli.child.kill('SIGKILL');
    await Promise.all(queues.map((queue) => queue.close()));
    await smtp?.close();
    await removePrefix(prefix);
  });

  it('consumes only booking_emails and exits 0 on SIGTERM', async () => {
    cli = spawnCli(['--queues', 'booking_emails'], testEnv(prefix, { ...smtpEnv(smtp) }));
    const { child, exited, stdout } = cli;
    await waitFor(() => stdout().includes('workers started'), {
      timeoutMs: 20_000,
      what: 'workers started',
    });
    const welcome = await producer('auth_emails').add('send_welcome_email', { email: 'welcome@example.com' });
    const booking = await producer('booking_emails').add('send_booking_confirmation', {
      user_id: 1,
      email: 'booking@example.com',
      booking_data: { event_name: 'CLI Conf' },
    });
    await waitFor(async () => (await booking.getState()) === 'completed', {
      what: 'the booking job to complete',
    });
    expect(smtp.messages.map(recipientOf)).toEqual(['booking@example.com']);
    expect(await welcome.getState()).toBe('waiting');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
