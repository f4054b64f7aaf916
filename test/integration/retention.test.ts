/**
 * What Redis keeps: at most COMPLETED_JOB_RETENTION_COUNT completed jobs, failed jobs (dead letters) for
 * FAILED_JOB_RETENTION, and each queue's events stream capped at EVENTS_MAX_LEN.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEmailClient } from '@email-workers/client';
import { QUEUE_NAMES, type QueueName } from '../../src/tasks/define-task.js';
import { failedJob } from '../helpers/jobs.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { startTestWorkers, type TestWorkers, smtpEnv } from '../helpers/workers.js';

let smtp: SmtpSink;
let redis: Redis;
/** COMPLETED_JOB_RETENTION_COUNT=2, FAILED_JOB_RETENTION=1h. */
let w: TestWorkers;
/** FAILED_JOB_RETENTION=1 (second). */
let shortLived: TestWorkers;

beforeAll(async () => {
  smtp = await startSmtpSink();
  redis = new Redis(TEST_REDIS_URL);
  [w, shortLived] = await Promise.all([
    startTestWorkers(
      'retention',
      { ...smtpEnv(smtp), COMPLETED_JOB_RETENTION_COUNT: '2', FAILED_JOB_RETENTION: '1h' },
      { queues: ['auth_emails'] },
    ),
    startTestWorkers(
      'retention-short',
      { ...smtpEnv(smtp), FAILED_JOB_RETENTION: '1' },
      { queues: ['auth_emails'] },
    ),
  ]);
});

afterAll(async () => {
  await Promise.all([w?.stop(), shortLived?.stop()]);
  await smtp?.close();
  redis?.disconnect();
});

beforeEach(() => {
  smtp.reply = () => undefined;
});

const rejectAll = () => (smtp.reply = () => ({ code: 550, message: 'No such user here' }));

describe('completed jobs', () => {
  it('are kept at most COMPLETED_JOB_RETENTION_COUNT per queue', async () => {
    const queue = w.queue('auth_emails');
    const jobs = await queue.addBulk(
      [1, 2, 3, 4, 5].map((n) => ({ name: 'send_welcome_email', data: { email: `kept-${n}@example.com` } })),
    );
    const events = await w.events('auth_emails');
    await Promise.all(jobs.map((job) => job.waitUntilFinished(events, 15_000)));
    expect(await queue.getCompletedCount()).toBe(2);
  });
});

describe('failed jobs', () => {
  it('are kept with their data within FAILED_JOB_RETENTION', async () => {
    rejectAll();
    const job = await w.queue('auth_emails').add('send_welcome_email', { email: 'kept-dead@example.com' });
    const dead = await failedJob(w, job);
    expect(dead.data).toEqual({ email: 'kept-dead@example.com' });
    expect(await w.queue('auth_emails').getFailed()).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: job.id })]),
    );
  });

  it('are removed once older than FAILED_JOB_RETENTION when another job fails', async () => {
    rejectAll();
    const queue = shortLived.queue('auth_emails');
    const old = await failedJob(
      shortLived,
      await queue.add('send_welcome_email', { email: 'old@example.com' }),
    );
    await waitFor(() => Date.now() > old.finishedOn! + 1_100, { what: 'the failed job to age past 1 s' });
    const recent = await failedJob(
      shortLived,
      await queue.add('send_welcome_email', { email: 'recent@example.com' }),
    );
    expect(await queue.getJob(old.id!)).toBeUndefined();
    expect(await queue.getJob(recent.id!)).toBeDefined();
  });
});

describe('the events stream', () => {
  const maxLenEvents = (prefix: string, queue: QueueName) =>
    redis.hget(`${prefix}:${queue}:meta`, 'opts.maxLenEvents');

  it('is capped at EVENTS_MAX_LEN in every queue’s meta once the workers have started', async () => {
    const capped = await startTestWorkers('retention-events', { ...smtpEnv(smtp), EVENTS_MAX_LEN: '150' });
    try {
      for (const queue of QUEUE_NAMES) expect(await maxLenEvents(capped.prefix, queue)).toBe('150');
    } finally {
      await capped.stop();
    }
  });

  it('stays capped at EVENTS_MAX_LEN after the client has enqueued', async () => {
    // Every BullMQ Queue writes its own events cap (10000 unless told) into the meta hash when it connects.
    const capped = await startTestWorkers('retention-client', { ...smtpEnv(smtp), EVENTS_MAX_LEN: '150' });
    const client = createEmailClient({ redisUrl: TEST_REDIS_URL, prefix: capped.prefix });
    try {
      await client.enqueue('send_welcome_email', { email: 'capped@example.com' });
      expect(await maxLenEvents(capped.prefix, 'auth_emails')).toBe('150');
    } finally {
      await client.close();
      await capped.stop();
    }
  });
});
