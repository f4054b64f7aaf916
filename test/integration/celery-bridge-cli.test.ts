/**
 * The bridge from the command line: `start-workers --celery-bridge` runs it beside the workers in one process,
 * and a bad broker URL stops `start-workers celery-bridge` with one line naming the variable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type RunningCli } from '../helpers/cli.js';
import { removeCeleryKeys, startCeleryProducer, uniqueCeleryQueue } from '../helpers/celery.js';
import { recipientOf } from '../helpers/jobs.js';
import { removePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { smtpEnv, testEnv } from '../helpers/workers.js';

describe('start-workers --celery-bridge', () => {
  const prefix = uniquePrefix('celery-cli');
  const queue = uniqueCeleryQueue('cli');
  let smtp: SmtpSink;
  let cli: RunningCli | undefined;

  beforeAll(async () => {
    smtp = await startSmtpSink();
  });

  afterAll(async () => {
    if (cli?.child.exitCode === null) cli.child.kill('SIGKILL');
    await smtp?.close();
    await removePrefix(prefix);
    await removeCeleryKeys(TEST_REDIS_URL, [queue]);
  });

  it('delivers what a Celery producer sends, and exits 0 on SIGTERM', async () => {
    cli = spawnCli(
      ['--celery-bridge', '--queues', 'auth_emails'],
      testEnv(prefix, { ...smtpEnv(smtp), CELERY_BROKER_URL: TEST_REDIS_URL, CELERY_QUEUES: queue }),
    );
    await waitFor(() => cli!.stdout().includes('celery bridge started'), { timeoutMs: 30_000 });
    const producer = startCeleryProducer({ CELERY_BROKER_URL: TEST_REDIS_URL, QUEUE: queue });
    try {
      await producer.run({
        op: 'send_task',
        name: 'send_welcome_email',
        args: [{ email: 'cli@example.com' }],
        queue,
      });
    } finally {
      await producer.close();
    }
    await waitFor(() => smtp.messages.some((mail) => recipientOf(mail) === 'cli@example.com'), {
      timeoutMs: 15_000,
      what: 'the email',
    });
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });
});

describe('start-workers celery-bridge with a bad broker URL', () => {
  it('exits 1 with one line naming CELERY_BROKER_URL', async () => {
    const bad = spawnCli(['celery-bridge'], { CELERY_BROKER_URL: 'sqs://queue' });
    expect(await bad.exited).toBe(1);
    expect(bad.stderr()).toMatch(/^ {2}CELERY_BROKER_URL: expected a URL starting with redis:\/\//m);
  });
});
