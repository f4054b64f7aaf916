/**
 * Jobs that fail for good become dead letters: copied to the `dead_letter` queue from the queues' failed sets, with
 * their error history, secrets and addresses masked, one letter and one fatal line however many replicas listen.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { createRedis, queuePrefix } from '../../src/queues/connection.js';
import { startDeadLetterAlerter } from '../../src/queues/dead-letter-alerter.js';
import { listenForFailures } from '../../src/queues/dead-letter-listener.js';
import { DEAD_LETTER_QUEUE, openDeadLetters } from '../../src/queues/dead-letter.js';
import { failedJob } from '../helpers/jobs.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { capturedLogger, smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

let smtp: SmtpSink;
let w: TestWorkers;
let letters: Queue;

beforeAll(async () => {
  smtp = await startSmtpSink();
  w = await startTestWorkers('dead-letters', { ...smtpEnv(smtp), LEDGER_ENABLED: 'false' });
  letters = new Queue(DEAD_LETTER_QUEUE, {
    connection: { url: w.config.redis.url },
    prefix: queuePrefix(w.config.redis, DEAD_LETTER_QUEUE),
  });
});

afterAll(async () => {
  await letters?.close();
  await w?.stop();
  await smtp?.close();
});

beforeEach(() => {
  smtp.reply = () => ({ code: 550, message: 'Mailbox unavailable' });
});

const letterOf = (job: Job) =>
  waitFor(async () => (await letters.getJob(`${job.queueName}/${job.id}`)) ?? undefined, {
    timeoutMs: 15_000,
    what: 'the dead letter',
  });

describe('a job that failed for good', () => {
  it('is copied to dead_letter with its error history, the OTP code removed and the address masked', async () => {
    const job = await w
      .queue('auth_emails')
      .add('send_otp_verification_email', { email: 'otp-dead@example.com', otp: '739104' });
    await failedJob(w, job);
    const letter = await letterOf(job);
    expect(letter.data).toMatchObject({
      source: 'email-workers',
      origin: 'auth_emails',
      code: 'SMTP_REJECTED',
      task: 'send_otp_verification_email',
      message_id: job.id,
      recipient: 'o***@example.com',
      attempts: 1,
      job: { queue: 'auth_emails', id: job.id },
      message: { email: 'o***@example.com', otp: '***' },
    });
    expect(letter.data.reason).toMatch(/550/);
    expect(letter.data.history).toEqual(
      expect.arrayContaining([expect.stringMatching(/^failed \(SMTP_REJECTED\): /)]),
    );
    expect(JSON.stringify(letter.data)).not.toMatch(/739104|otp-dead@/);
  });

  it('is copied after a restart when it failed while nothing listened', async () => {
    // A queue no worker process takes, with a listener of its own: it reads, stops, a job fails for good, and the
    // listener started again finds the failure in the queue's failed set.
    const queueName = 'restart_probe';
    const prefix = queuePrefix(w.config.redis, queueName);
    const { logger } = capturedLogger('debug');
    const redis = createRedis(w.config.redis, 'worker', () => undefined);
    const queue = new Queue(queueName, { connection: redis, prefix });
    const deadLetters = openDeadLetters(redis, queuePrefix(w.config.redis, DEAD_LETTER_QUEUE));
    const listen = () => listenForFailures([queue], redis, w.config, deadLetters, logger, 100);
    const worker = new Worker(
      queueName,
      async () => {
        throw new UnrecoverableError('failed while nothing listened');
      },
      { connection: { url: w.config.redis.url }, prefix, autorun: false },
    );
    try {
      const first = listen();
      await first.ready;
      await first.close();
      const job = await queue.add('send_welcome_email', { email: 'while-down@example.com' });
      void worker.run();
      await waitFor(async () => (await job.getState()) === 'failed', { what: 'the job to fail' });
      await worker.close();
      const again = listen();
      try {
        const letter = await letterOf(job);
        expect(letter.data).toMatchObject({
          origin: queueName,
          reason: 'failed while nothing listened',
          recipient: 'w***@example.com',
        });
      } finally {
        await again.close();
      }
    } finally {
      await worker.close();
      await deadLetters.close();
      await queue.obliterate({ force: true });
      await queue.close();
      redis.disconnect();
    }
  });

  it('is copied once and logged once at fatal, with three replicas listening', async () => {
    // Two more replicas' listeners and alerters on the same queues, each with its own log.
    const replicas = [1, 2].map(() => {
      const { logs, logger } = capturedLogger('debug');
      const redis = createRedis(w.config.redis, 'worker', () => undefined);
      const queue = new Queue('auth_emails', {
        connection: redis,
        prefix: queuePrefix(w.config.redis, 'auth_emails'),
      });
      const deadLetters = openDeadLetters(redis, queuePrefix(w.config.redis, DEAD_LETTER_QUEUE));
      const listener = listenForFailures([queue], redis, w.config, deadLetters, logger);
      const alerter = startDeadLetterAlerter(deadLetters.queue, redis, w.config, logger);
      return {
        logs,
        ready: listener.ready,
        async close() {
          await listener.close();
          await alerter.close();
          await deadLetters.close();
          await queue.close();
          redis.disconnect();
        },
      };
    });
    const redis = createRedis(w.config.redis, 'worker', () => undefined);
    try {
      await Promise.all(replicas.map((replica) => replica.ready));
      const job = await w.queue('auth_emails').add('send_welcome_email', { email: 'thrice@example.com' });
      await failedJob(w, job);
      await letterOf(job);
      // Every listener has seen the failure: one letter added, two additions recognised as the same letter.
      const events = `${queuePrefix(w.config.redis, DEAD_LETTER_QUEUE)}:${DEAD_LETTER_QUEUE}:events`;
      await waitFor(
        async () => {
          const entries = await redis.xrange(events, '-', '+');
          const mine = entries.filter(([, fields]) => fields.includes(`auth_emails/${job.id}`));
          return mine.filter(([, fields]) => fields.includes('duplicated')).length === 2;
        },
        { timeoutMs: 15_000, what: 'three listeners' },
      );
      const fatal = [w.logs, ...replicas.map((r) => r.logs)]
        .flat()
        .filter((line) => line.level === 60 && line.deadLetter === `auth_emails/${job.id}`);
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toMatchObject({
        task: 'send_welcome_email',
        to: 't***@example.com',
        code: 'SMTP_REJECTED',
      });
      expect(await letters.getJobCountByTypes('waiting')).toBeGreaterThanOrEqual(1);
    } finally {
      for (const replica of replicas) await replica.close();
      redis.disconnect();
    }
  });
});
