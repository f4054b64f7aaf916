/**
 * The typed client: routes by name, validates before sending, deduplicates by idempotency key, honours the
 * auth queue's priorities, and fails fast when Redis is down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmailClient, type EmailClient } from '@email-workers/client';
import { QueueUnavailableError } from '../../src/errors.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { startTestWorkers, type TestWorkers, smtpEnv } from '../helpers/workers.js';

let smtp: SmtpSink;
let w: TestWorkers;
let client: EmailClient;

beforeAll(async () => {
  smtp = await startSmtpSink();
  w = await startTestWorkers('client', { ...smtpEnv(smtp) }, { concurrency: 1 });
  client = createEmailClient({ redisUrl: TEST_REDIS_URL, prefix: w.prefix });
});

afterAll(async () => {
  await client?.close();
  await w?.stop();
  await smtp?.close();
});

const sentTo = (address: string) =>
  smtp.messages.filter((m) => m.to && 'value' in m.to && m.to.value[0]?.address === address);

describe('enqueue', () => {
  it('routes each task to its queue and returns the job id', async () => {
    const id = await client.enqueue('send_waitlist_joined', {
      user_id: 5,
      email: 'routed@example.com',
      waitlist_data: { event_name: 'Routed', position: 2 },
    });
    const job = await w.queue('waitlist_emails').getJob(id);
    expect(job?.name).toBe('send_waitlist_joined');
    await waitFor(() => sentTo('routed@example.com').length === 1);
  });

  it('enqueues many at once across queues, ids in order', async () => {
    const ids = await client.enqueueMany([
      { name: 'send_welcome_email', payload: { email: 'many-1@example.com' } },
      {
        name: 'send_booking_cancellation',
        payload: { user_id: 1, email: 'many-2@example.com', cancellation_data: {} },
      },
      { name: 'send_welcome_email', payload: { email: 'many-3@example.com' } },
    ]);
    expect(ids).toHaveLength(3);
    expect((await w.queue('auth_emails').getJob(ids[0]!))?.data.email).toBe('many-1@example.com');
    expect((await w.queue('booking_emails').getJob(ids[1]!))?.data.email).toBe('many-2@example.com');
    expect((await w.queue('auth_emails').getJob(ids[2]!))?.data.email).toBe('many-3@example.com');
    await waitFor(() => ['many-1', 'many-2', 'many-3'].every((n) => sentTo(`${n}@example.com`).length === 1));
  });

  it.each(['123', 'a:b', 'booking:42', 'ключ-🎟'])(
    'sends one email for two enqueues with the key %j',
    async (key) => {
      const address = `idem-${Buffer.from(key).toString('hex')}@example.com`;
      const first = await client.enqueue('send_welcome_email', { email: address }, { idempotencyKey: key });
      const second = await client.enqueue('send_welcome_email', { email: address }, { idempotencyKey: key });
      expect(second).toBe(first);
      await waitFor(() => sentTo(address).length === 1);
      // Still ignored after the first job completed, while BullMQ retains it. With one job at a time per queue,
      // a marker enqueued after the duplicate arrives only once the duplicate had its turn.
      await client.enqueue('send_welcome_email', { email: address }, { idempotencyKey: key });
      const marker = `marker-${Buffer.from(key).toString('hex')}@example.com`;
      await client.enqueue('send_welcome_email', { email: marker });
      await waitFor(() => sentTo(marker).length === 1);
      expect(sentTo(address)).toHaveLength(1);
    },
  );

  it('sends OTP jobs before welcome jobs waiting on the same queue', async () => {
    const auth = w.running.workers.get('auth_emails')!;
    await auth.pause();
    try {
      await client.enqueue('send_welcome_email', { email: 'prio-welcome@example.com' });
      await client.enqueue('send_otp_verification_email', { email: 'prio-otp@example.com', otp: '1234' });
    } finally {
      auth.resume();
    }
    await waitFor(() => sentTo('prio-welcome@example.com').length === 1);
    const order = smtp.messages.map((m) => (m.to && 'value' in m.to ? m.to.value[0]?.address : undefined));
    expect(order.indexOf('prio-otp@example.com')).toBeLessThan(order.indexOf('prio-welcome@example.com'));
  });
});

describe('with Redis down', () => {
  it('rejects within about a second with a typed error', async () => {
    const offline = createEmailClient({ redisUrl: 'redis://127.0.0.1:1', prefix: 'unreachable' });
    const started = Date.now();
    try {
      await expect(
        offline.enqueue('send_welcome_email', { email: 'nobody@example.com' }),
      ).rejects.toBeInstanceOf(QueueUnavailableError);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await offline.close();
    }
  });
});
