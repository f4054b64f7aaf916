/**
 * Two live bridges under one name on kombu's Redis transport: when the second takes the lease (here: the first's
 * lease vanishes mid-burst, as when Redis lost it), the first pauses, and their shared processing list loses none
 * of 500 messages and sends none twice.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type RunningCli } from '../helpers/cli.js';
import { removeCeleryKeys, startCeleryProducer, uniqueCeleryQueue } from '../helpers/celery.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, smtpEnv, startTestWorkers, testEnv, type TestWorkers } from '../helpers/workers.js';

const BURST = 500;
const LATE = 10;

describe('two bridges of one name', () => {
  const queue = uniqueCeleryQueue('lease');
  const name = `lease-${queue}`;
  const leaseKey = `email-workers:celery-bridge:${name}:lease`;
  let smtp: SmtpSink;
  let schema: TestSchema;
  let workers: TestWorkers;
  let redis: Redis;
  const bridges: RunningCli[] = [];

  const startBridge = () => {
    const cli = spawnCli(
      ['celery-bridge', '--name', name, '--batch-size', '20'],
      testEnv(workers.prefix, { LOG_LEVEL: 'info', CELERY_BROKER_URL: TEST_REDIS_URL, CELERY_QUEUES: queue }),
    );
    bridges.push(cli);
    return cli;
  };
  const bridgedBy = (cli: RunningCli) => cli.stdout().split('"outcome":"bridged"').length - 1;

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    smtp = await startSmtpSink();
    schema = await createTestSchema('celery_lease');
    await schema.addUser({ id: 7, email: 'burst@example.com' });
    workers = await startTestWorkers(
      'celery-lease',
      { ...smtpEnv(smtp), ...databaseEnv(schema), LOG_LEVEL: 'warn' },
      { concurrency: 20 },
    );
  });

  afterAll(async () => {
    for (const cli of bridges) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    await workers?.stop();
    await smtp?.close();
    await schema?.drop();
    await removeCeleryKeys(TEST_REDIS_URL, [queue]);
    await redis?.del(leaseKey, `email-workers:celery-bridge:${name}:processing`);
    redis?.disconnect();
  });

  it(
    'pause the one that lost its lease, and lose none of 500 messages nor send one twice',
    { timeout: 120_000 },
    async () => {
      const first = startBridge();
      await waitFor(() => first.stdout().includes('celery bridge started'), {
        timeoutMs: 30_000,
        what: 'the first bridge to start',
      });
      const second = startBridge();
      await waitFor(() => second.stdout().includes('another bridge holds this name'), {
        timeoutMs: 30_000,
        what: 'the second bridge to wait for the lease',
      });
      const producer = startCeleryProducer({ CELERY_BROKER_URL: TEST_REDIS_URL, QUEUE: queue });
      try {
        const burst = producer.run<{ ids: string[] }>({
          op: 'burst',
          name: 'email_workers.tasks.send_booking_confirmation',
          queue,
          count: BURST,
          user_id: 7,
        });
        await waitFor(() => bridgedBy(first) >= 40, { timeoutMs: 30_000, what: 'some messages bridged' });
        await redis.del(leaseKey);
        await waitFor(() => second.stdout().includes('celery bridge started'), {
          timeoutMs: 30_000,
          what: 'the second bridge to take the lease',
        });
        await waitFor(() => first.stdout().includes('lost the processing-list lease'), {
          timeoutMs: 30_000,
          what: 'the first bridge to notice and pause',
        });
        await burst;
        // Sent while the first is paused: only the lease holder may bridge them.
        for (let n = 0; n < LATE; n++) {
          await producer.run({
            op: 'send_task',
            queue,
            name: 'email_workers.tasks.send_booking_confirmation',
            args: [7, { event_name: 'Late', booking_id: `LATE-${n}` }],
          });
        }
      } finally {
        await producer.close();
      }

      const mails = await smtp.waitForMessages(BURST + LATE, 60_000);
      const bookingIds = mails.map((mail) => /(BURST|LATE)-\d+/.exec(mail.text ?? '')?.[0]);
      expect(new Set(bookingIds).size).toBe(BURST + LATE);
      expect(bridgedBy(second)).toBeGreaterThanOrEqual(LATE);
      await waitFor(
        async () => {
          const booking = workers.queue('booking_emails');
          const unfinished = await booking.getJobCountByTypes('waiting', 'prioritized', 'active', 'delayed');
          return (await booking.getCompletedCount()) === BURST + LATE && unfinished === 0;
        },
        { timeoutMs: 30_000, what: `${BURST + LATE} completed jobs` },
      );
      expect(smtp.messages).toHaveLength(BURST + LATE);
      expect(await redis.llen(`email-workers:celery-bridge:${name}:processing`)).toBe(0);
      second.child.kill('SIGTERM');
      first.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      expect(await first.exited).toBe(0);
    },
  );
});
