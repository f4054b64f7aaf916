/**
 * MAX_RETRIES counts failures of the message only. A run that waited for another attempt holding the email, and
 * a rerun after a crash (BullMQ's stalled check), each start the job again without using up an attempt: with
 * MAX_RETRIES=1, a job that waits, or crashes its worker, and then meets one 451 is still delivered.
 */
import { spawn } from 'node:child_process';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { removePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, smtpEnv, startTestWorkers, testEnv, type TestWorkers } from '../helpers/workers.js';

let smtp: SmtpSink;
let db: TestSchema;
let w: TestWorkers;

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('budget');
  w = await startTestWorkers(
    'budget',
    { ...smtpEnv(smtp), ...databaseEnv(db), MAX_RETRIES: '1' },
    { queues: ['auth_emails'] },
  );
});

afterAll(async () => {
  await w?.stop();
  await smtp?.close();
  await db?.drop();
});

/** The next transaction gets a 451; the ones after it are accepted. */
function deferNextOnce() {
  const first = smtp.transactions + 1;
  smtp.reply = (n) => (n === first ? { code: 451, message: '4.2.0 Mailbox busy' } : undefined);
}

describe('the attempt budget', () => {
  it('is not used up by waiting for another attempt that holds the email', async () => {
    // Another attempt, alive for 1.5 s more, holds this email's ledger row.
    await db.pool.query(
      `INSERT INTO ${db.schema}.email_deliveries
         (idempotency_key, job_id, queue, task, status, attempts, attempt_token, lease_until)
       VALUES ('send_welcome_email~budget-wait', 'holder', 'auth_emails', 'send_welcome_email', 'sending', 1,
               'alive-token', now() + interval '1 minute')`,
    );
    const redis = new Redis(TEST_REDIS_URL);
    await redis.set(`${w.prefix}:auth_emails:holder:lock`, 'alive-token', 'PX', 1_500);
    redis.disconnect();
    deferNextOnce();
    try {
      const job = await w
        .queue('auth_emails')
        .add('send_welcome_email', { email: 'waited@example.com' }, { jobId: 'budget-wait' });
      expect(await job.waitUntilFinished(await w.events('auth_emails'), 20_000)).toMatchObject({
        success: true,
      });
      const { logs } = await w.queue('auth_emails').getJobLogs(job.id!);
      expect(logs).toEqual([
        ...logs.filter((line) =>
          /another attempt is sending this email \(key #[0-9a-f]{8}, job budget-wait\) \(not charged; retry in \d+ ms\)$/.test(
            line,
          ),
        ),
        expect.stringMatching(/^attempt 1: SMTP 451/),
      ]);
      expect(logs.length).toBeGreaterThan(1);
    } finally {
      smtp.reply = () => undefined;
    }
  });

  it('is not used up by a rerun after the worker crashed', async () => {
    const prefix = uniquePrefix('budget-crash');
    const env = {
      ...process.env,
      ...testEnv(prefix, {
        ...smtpEnv(smtp),
        ...databaseEnv(db),
        MAX_RETRIES: '1',
        LOCK_DURATION_MS: '1000',
        STALLED_INTERVAL_MS: '500',
      }),
    };
    const start = (extra: Record<string, string> = {}) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli/start-workers.ts', '--queues', 'auth_emails'],
        {
          env: { ...env, ...extra },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
        child.on('exit', (code, signal) => resolve(signal ?? code)),
      );
      return { child, exited, output: () => output };
    };
    const queue = new Queue('auth_emails', { connection: { url: TEST_REDIS_URL }, prefix });
    try {
      const crashing = start({ CHAOS_CRASH_POINT: 'before-send@budget-crash' });
      await waitFor(() => crashing.output().includes('workers started'), {
        timeoutMs: 20_000,
        what: 'workers started',
      });
      const job = await queue.add(
        'send_welcome_email',
        { email: 'crashed@example.com' },
        { jobId: 'budget-crash' },
      );
      expect(await crashing.exited).toBe('SIGKILL');

      deferNextOnce();
      const survivor = start();
      try {
        await waitFor(
          async () => (await queue.getJob('budget-crash'))!.getState().then((s) => s === 'completed'),
          {
            timeoutMs: 20_000,
            what: 'the job completed by the other worker',
          },
        );
      } finally {
        survivor.child.kill('SIGTERM');
        expect(await survivor.exited).toBe(0);
      }
      const reloaded = (await queue.getJob(job.id!))!;
      // Three runs: the crash, the 451 (its one charged attempt), the send.
      expect(reloaded.attemptsStarted).toBe(3);
      const { logs } = await queue.getJobLogs(job.id!);
      expect(logs).toEqual([expect.stringMatching(/^attempt 1: SMTP 451/)]);
      expect(
        smtp.messages.filter(
          (m) => m.messageId && m.to && 'value' in m.to && m.to.value[0]?.address === 'crashed@example.com',
        ),
      ).toHaveLength(1);
    } finally {
      smtp.reply = () => undefined;
      await queue.close();
      await removePrefix(prefix);
    }
  }, 60_000);
});
