/**
 * The fallback relay: with the primary SMTP relay down, OTP codes go through SMTP_FALLBACK_* once the primary's
 * breaker opens, booking emails wait for the primary and go through it when it is back; the ledger records which
 * relay sent each email.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recipientOf } from '../helpers/jobs.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { closedPort, startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

let primary: SmtpSink;
let fallback: SmtpSink;
let proxy: TcpProxy;
let db: TestSchema;
let w: TestWorkers;
let healthPort: number;

beforeAll(async () => {
  primary = await startSmtpSink();
  fallback = await startSmtpSink();
  proxy = await startTcpProxy(primary.port);
  db = await createTestSchema('fallback_relay');
  await db.addUser({ id: 1, email: 'booking-0@example.com' });
  await db.addUser({ id: 2, email: 'booking-1@example.com' });
  healthPort = await closedPort();
  w = await startTestWorkers('fallback-relay', {
    HEALTH_PORT: String(healthPort),
    ...databaseEnv(db),
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(proxy.port),
    SMTP_FALLBACK_HOST: '127.0.0.1',
    SMTP_FALLBACK_PORT: String(fallback.port),
    BREAKER_THRESHOLD: '3',
    BREAKER_PROBE_INTERVAL: '500ms',
  });
});

afterAll(async () => {
  await w?.stop();
  await proxy?.close();
  await primary?.close();
  await fallback?.close();
  await db?.drop();
});

const relayOf = async (jobId: string) => {
  const { rows } = await db.pool.query<{ relay: string | null }>(
    `SELECT relay FROM ${db.schema}.email_deliveries WHERE job_id = $1 AND status = 'sent'`,
    [jobId],
  );
  return rows[0]?.relay;
};

it('sends OTPs through the fallback while the primary is down; booking emails wait for the primary', async () => {
  await proxy.refuse();
  const otps = await Promise.all(
    [0, 1, 2].map((i) =>
      w
        .queue('auth_emails')
        .add('send_otp_verification_email', { email: `otp-${i}@example.com`, otp: `40${i}123` }),
    ),
  );
  const bookings = await Promise.all(
    [0, 1].map((i) =>
      w.queue('booking_emails').add('send_booking_confirmation', {
        user_id: i + 1,
        booking_data: { event_name: 'JSConf', booking_id: `BK-${i}` },
      }),
    ),
  );

  await fallback.waitForMessages(3, 30_000);
  expect(fallback.messages.map(recipientOf).sort()).toEqual([
    'otp-0@example.com',
    'otp-1@example.com',
    'otp-2@example.com',
  ]);
  for (const job of otps) expect(await relayOf(job.id!)).toBe('fallback');
  expect(w.running.breakers.isOpen('smtp')).toBe(true);
  // Waiting for the primary: turned back or held, never sent, never failed.
  for (const job of bookings) {
    await waitFor(async () => ['waiting', 'delayed', 'prioritized'].includes(await job.getState()), {
      what: 'a booking email held back',
    });
  }
  expect(primary.messages).toHaveLength(0);

  await proxy.restore();
  await primary.waitForMessages(2, 30_000);
  expect(primary.messages.map(recipientOf).sort()).toEqual([
    'booking-0@example.com',
    'booking-1@example.com',
  ]);
  for (const job of bookings) {
    await waitFor(async () => (await relayOf(job.id!)) === 'primary', {
      timeoutMs: 15_000,
      what: 'the ledger row',
    });
  }
  // Nothing went twice, and nothing to the wrong relay; the metrics count per relay.
  expect(fallback.messages).toHaveLength(3);
  const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  expect(metrics).toMatch(/^email_relay_sent_total\{relay="fallback"\} 3$/m);
  expect(metrics).toMatch(/^email_relay_sent_total\{relay="primary"\} 2$/m);
  expect(
    w.logs.filter((line) => line.level === 60 && line.msg === 'dead letter: job failed for good'),
  ).toEqual([]);
}, 90_000);
