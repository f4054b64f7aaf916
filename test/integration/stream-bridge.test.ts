/**
 * The stream bridge: entries added with `redis-cli XADD` become their emails once, including after the bridge
 * was killed mid-batch; entries that cannot be parsed are dead-lettered; pub/sub messages are bridged too.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_QUEUE } from '../../src/queues/dead-letter.js';
import { spawnCli, type RunningCli } from '../helpers/cli.js';
import { recipientOf } from '../helpers/jobs.js';
import { TEST_REDIS_URL, removePrefix } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { smtpEnv, startTestWorkers, testEnv, type TestWorkers } from '../helpers/workers.js';

const run = promisify(execFile);
const { hostname, port } = new URL(TEST_REDIS_URL);

let smtp: SmtpSink;
let workers: TestWorkers;
let redis: Redis;
let deadLetters: Queue;
let stream: string;
let channel: string;
const clis: RunningCli[] = [];

/** The way an operator or a shell script would add an entry. */
const xadd = async (...fields: string[]) =>
  (
    await run('redis-cli', ['-h', hostname, '-p', port || '6379', 'XADD', stream, '*', ...fields])
  ).stdout.trim();

const startBridge = (...args: string[]) => {
  const cli = spawnCli(
    ['stream-bridge', '--stream', stream, '--channel', channel, '--block-timeout', '200', ...args],
    testEnv(workers.prefix, { LOG_LEVEL: 'info' }),
  );
  clis.push(cli);
  return cli;
};
const started = (cli: RunningCli) =>
  waitFor(() => cli.stdout().includes('stream bridge started'), { timeoutMs: 30_000, what: 'the bridge' });
const mailsTo = (address: string) => smtp.messages.filter((mail) => recipientOf(mail) === address);

beforeAll(async () => {
  smtp = await startSmtpSink();
  workers = await startTestWorkers('stream-bridge', { ...smtpEnv(smtp), LOG_LEVEL: 'warn' });
  stream = `${workers.prefix}:ingest`;
  channel = `${workers.prefix}:channel`;
  redis = new Redis(TEST_REDIS_URL);
  deadLetters = new Queue(DEAD_LETTER_QUEUE, { connection: { url: TEST_REDIS_URL }, prefix: workers.prefix });
});

afterAll(async () => {
  for (const cli of clis) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
  await deadLetters?.close();
  await workers?.stop();
  await smtp?.close();
  await removePrefix(workers.prefix);
  redis?.disconnect();
});

describe('start-workers stream-bridge', () => {
  it('creates the consumer group and delivers an XADD entry once', async () => {
    const bridge = startBridge();
    await started(bridge);
    expect(await redis.xinfo('GROUPS', stream)).toEqual([expect.arrayContaining(['email-workers'])]);
    await xadd('task', 'send_welcome_email', 'payload', '{"email":"stream@example.com"}');
    await waitFor(() => mailsTo('stream@example.com').length === 1, { what: 'the email' });
    await waitFor(async () => (await redis.xpending(stream, 'email-workers'))[0] === 0, {
      what: 'the entry acknowledged',
    });
    expect(mailsTo('stream@example.com')).toHaveLength(1);
  });

  it('takes the idempotency_key: two entries with one key are one email', async () => {
    await xadd(
      'task',
      'send_welcome_email',
      'payload',
      '{"email":"keyed@example.com"}',
      'idempotency_key',
      'k-1',
    );
    await xadd(
      'task',
      'send_welcome_email',
      'payload',
      '{"email":"keyed@example.com"}',
      'idempotency_key',
      'k-1',
    );
    await waitFor(
      async () =>
        (await redis.xpending(stream, 'email-workers'))[0] === 0 && mailsTo('keyed@example.com').length > 0,
    );
    const job = await workers.queue('auth_emails').getJob('send_welcome_email~k-1');
    await job!.waitUntilFinished(await workers.events('auth_emails'), 15_000);
    expect(mailsTo('keyed@example.com')).toHaveLength(1);
  });

  it('dead-letters an entry that cannot be parsed, with the reason, and acknowledges it', async () => {
    const id = await xadd('task', 'send_welcome_email', 'payload', '{not json');
    const letter = await waitFor(async () =>
      (await deadLetters.getJobs(['waiting'])).find((job) => job.data.message_id === id),
    );
    expect(letter.data).toMatchObject({
      source: 'stream-bridge',
      origin: stream,
      code: 'MESSAGE_UNDECODABLE',
    });
    expect(letter.data.reason).toMatch(/payload is not valid JSON/);
  });

  it('dead-letters an OTP entry that fails validation with its code masked', async () => {
    const id = await xadd(
      'task',
      'send_otp_verification_email',
      'payload',
      '{"email":"x@example.com","otp":"12"}',
    );
    const letter = await waitFor(async () =>
      (await deadLetters.getJobs(['waiting'])).find((job) => job.data.message_id === id),
    );
    expect(letter.data.code).toBe('INVALID_PAYLOAD');
    expect(letter.data.message.payload).not.toContain('"12"');
  });

  it('bridges a pub/sub message of the same shape', async () => {
    await redis.publish(
      channel,
      JSON.stringify({ task: 'send_welcome_email', payload: { email: 'pub@example.com' } }),
    );
    await waitFor(() => mailsTo('pub@example.com').length === 1, { what: 'the pub/sub email' });
  });

  it('delivers every entry once after a bridge killed mid-batch', { timeout: 90_000 }, async () => {
    for (const cli of clis) {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
    // Entries waiting before the bridge starts: it reads them in batches of 5 and is killed after the first.
    const count = 60;
    for (let n = 0; n < count; n++) {
      await xadd('task', 'send_welcome_email', 'payload', JSON.stringify({ email: `crash${n}@example.com` }));
    }
    const first = startBridge('--batch-size', '5', '--consumer', 'crash-test');
    await waitFor(() => first.stdout().includes('"outcome":"bridged"'), { timeoutMs: 30_000 });
    first.child.kill('SIGKILL');
    await first.exited;
    // The kill may land between two batches, or after the last: entries read by the dead consumer and never
    // acknowledged are made certain by reading five more under its name, as it would have had it lived on.
    const late = 5;
    for (let n = count; n < count + late; n++) {
      await xadd('task', 'send_welcome_email', 'payload', JSON.stringify({ email: `crash${n}@example.com` }));
    }
    await redis.xreadgroup('GROUP', 'email-workers', 'crash-test', 'COUNT', late, 'STREAMS', stream, '>');
    expect((await redis.xpending(stream, 'email-workers'))[0]).toBeGreaterThanOrEqual(late);

    startBridge('--batch-size', '5', '--consumer', 'crash-test');
    const total = count + late;
    await waitFor(
      () =>
        Array.from({ length: total }, (_, n) => mailsTo(`crash${n}@example.com`).length).every((c) => c >= 1),
      { timeoutMs: 60_000, what: `${total} emails` },
    );
    await waitFor(async () => (await redis.xpending(stream, 'email-workers'))[0] === 0, {
      timeoutMs: 30_000,
    });
    await waitFor(async () => {
      const queue = workers.queue('auth_emails');
      return (await queue.getJobCountByTypes('waiting', 'prioritized', 'active', 'delayed')) === 0;
    });
    const copies = Array.from({ length: total }, (_, n) => mailsTo(`crash${n}@example.com`).length);
    expect(copies.every((c) => c === 1)).toBe(true);
  });

  it('takes over entries another consumer left pending (XAUTOCLAIM)', { timeout: 60_000 }, async () => {
    for (const cli of clis) {
      if (cli.child.exitCode === null) cli.child.kill('SIGTERM');
      await cli.exited;
    }
    await xadd('task', 'send_welcome_email', 'payload', '{"email":"orphan@example.com"}');
    // A consumer that read the entry and died before acknowledging it.
    await redis.xreadgroup('GROUP', 'email-workers', 'dead-consumer', 'COUNT', 10, 'STREAMS', stream, '>');
    startBridge('--consumer', 'another', '--claim-idle', '100');
    await waitFor(() => mailsTo('orphan@example.com').length === 1, {
      timeoutMs: 30_000,
      what: 'the orphan',
    });
  });
});
