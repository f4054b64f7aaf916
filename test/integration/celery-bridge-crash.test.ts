/**
 * `kill -9` of the bridge process during a burst of 500 Celery messages, then a restart under the same name:
 * every message becomes its email, and none becomes two (Redis: the processing list; RabbitMQ: manual acks).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type RunningCli } from '../helpers/cli.js';
import { removeCeleryKeys, startCeleryProducer, uniqueCeleryQueue } from '../helpers/celery.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { deleteAmqpQueues, TEST_AMQP_URL } from '../helpers/rabbitmq.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, smtpEnv, startTestWorkers, testEnv, type TestWorkers } from '../helpers/workers.js';

const BURST = 500;

describe.each([
  ['kombu’s Redis transport', TEST_REDIS_URL],
  ['RabbitMQ', TEST_AMQP_URL],
])('a bridge killed mid-burst over %s', (_transport, brokerUrl) => {
  const queue = uniqueCeleryQueue('crash');
  let smtp: SmtpSink;
  let schema: TestSchema;
  let workers: TestWorkers;
  const bridges: RunningCli[] = [];

  const startBridge = () => {
    const cli = spawnCli(
      ['celery-bridge', '--name', `crash-${queue}`, '--batch-size', '20'],
      testEnv(workers.prefix, { LOG_LEVEL: 'info', CELERY_BROKER_URL: brokerUrl, CELERY_QUEUES: queue }),
    );
    bridges.push(cli);
    return cli;
  };
  const bridgedBy = (cli: RunningCli) => cli.stdout().split('"outcome":"bridged"').length - 1;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    schema = await createTestSchema('celery_crash');
    await schema.addUser({ id: 7, email: 'burst@example.com' });
    workers = await startTestWorkers(
      'celery-crash',
      { ...smtpEnv(smtp), ...databaseEnv(schema), LOG_LEVEL: 'warn' },
      { concurrency: 20 },
    );
  });

  afterAll(async () => {
    for (const cli of bridges) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    await workers?.stop();
    await smtp?.close();
    await schema?.drop();
    if (brokerUrl.startsWith('amqp')) await deleteAmqpQueues([queue]).catch(() => undefined);
    else await removeCeleryKeys(brokerUrl, [queue]);
  });

  it('loses none of 500 messages and sends none twice', { timeout: 120_000 }, async () => {
    const first = startBridge();
    await waitFor(() => first.stdout().includes('celery bridge started'), {
      timeoutMs: 30_000,
      what: 'the bridge to start',
    });
    const producer = startCeleryProducer({ CELERY_BROKER_URL: brokerUrl, QUEUE: queue });
    try {
      const burst = producer.run<{ ids: string[] }>({
        op: 'burst',
        name: 'email_workers.tasks.send_booking_confirmation',
        queue,
        count: BURST,
        user_id: 7,
      });
      await waitFor(() => bridgedBy(first) >= 60, { timeoutMs: 30_000, what: 'some messages bridged' });
      first.child.kill('SIGKILL');
      await first.exited;
      const bridgedBeforeKill = bridgedBy(first);
      expect(bridgedBeforeKill).toBeLessThan(BURST);
      await burst;
    } finally {
      await producer.close();
    }

    const second = startBridge();
    const mails = await smtp.waitForMessages(BURST, 60_000);
    const bookingIds = mails.map((mail) => /BURST-\d+/.exec(mail.text ?? '')?.[0]);
    expect(new Set(bookingIds).size).toBe(BURST);

    // Every job has ended: nothing more can be sent, so the count of emails is final.
    await waitFor(
      async () => {
        const queue = workers.queue('booking_emails');
        const unfinished = await queue.getJobCountByTypes('waiting', 'prioritized', 'active', 'delayed');
        return (await queue.getCompletedCount()) === BURST && unfinished === 0;
      },
      { timeoutMs: 30_000, what: `${BURST} completed jobs` },
    );
    expect(smtp.messages).toHaveLength(BURST);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
