/**
 * OTP codes encrypted at rest: with PAYLOAD_ENCRYPTION_KEY set, no code enqueued by the typed client or the task
 * API appears anywhere in Redis (SCAN + DUMP and every value of every key of the test's prefix), and every email
 * still arrives with the right code. A plain BullMQ producer's clear text still works; a code that cannot be
 * decrypted fails the job for good with the reason.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createEmailClient, type EmailClient } from '@email-workers/client';
import { failedJob, recipientOf } from '../helpers/jobs.js';
import { API_TOKEN, bearer, monitorEnv, startTestMonitor, type TestMonitor } from '../helpers/monitor.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

const env = (smtp: SmtpSink) => ({
  ...smtpEnv(smtp),
  LEDGER_ENABLED: 'false',
  PAYLOAD_ENCRYPTION_KEY: `${randomBytes(32).toString('base64')},${randomBytes(32).toString('base64')}`,
});

let smtp: SmtpSink;
let w: TestWorkers;
let m: TestMonitor;
let client: EmailClient;
let redis: Redis;

beforeAll(async () => {
  smtp = await startSmtpSink();
  const variables = env(smtp);
  w = await startTestWorkers('encrypted-otp', variables);
  m = await startTestMonitor(w.prefix, { ...variables, ...monitorEnv });
  client = createEmailClient({ redis: w.config.redis, encryption: w.config.encryption });
  redis = new Redis(TEST_REDIS_URL);
});

afterAll(async () => {
  redis?.disconnect();
  await client?.close();
  await m?.close();
  await w?.stop();
  await smtp?.close();
});

/** Ten digits, so no timestamp or counter in Redis holds one by chance. */
const newCode = () => String(randomInt(1_000_000_000, 9_999_999_999));

/** Every key of the test's prefix, as DUMP serialises it and as its values read back. */
async function everythingInRedis(): Promise<string> {
  const texts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${w.prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const dump = await redis.dumpBuffer(key);
      if (dump) texts.push(dump.toString('latin1'));
      const type = await redis.type(key);
      if (type === 'string') texts.push((await redis.get(key)) ?? '');
      if (type === 'hash') texts.push(JSON.stringify(await redis.hgetall(key)));
      if (type === 'list') texts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      if (type === 'set') texts.push(JSON.stringify(await redis.smembers(key)));
      if (type === 'zset') texts.push(JSON.stringify(await redis.zrange(key, '0', '-1')));
      if (type === 'stream') texts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return texts.join('\n');
}

it('keeps every OTP code out of Redis, and delivers each email with its code', async () => {
  const sent = new Map<string, string>();
  // Delayed, so the scan below sees the jobs while they wait as well as after they ran.
  for (let i = 0; i < 5; i++) {
    const email = `client-${i}@example.com`;
    sent.set(email, newCode());
    await client.enqueue('send_otp_verification_email', { email, otp: sent.get(email)! }, { delay: 1_500 });
  }
  for (let i = 0; i < 2; i++) {
    const email = `api-${i}@example.com`;
    sent.set(email, newCode());
    const response = await m.request('/api/tasks/send_otp_verification_email?delay_ms=1500', {
      method: 'POST',
      auth: bearer(API_TOKEN),
      headers: { 'content-type': 'application/json', 'idempotency-key': `api-otp-${i}` },
      body: JSON.stringify({ email, otp: sent.get(email) }),
    });
    expect(response.status).toBe(202);
  }
  const codes = [...sent.values()];
  const waiting = await everythingInRedis();
  for (const code of codes) expect(waiting).not.toContain(code);
  expect(waiting).toContain('"$enc":"v1:');

  await smtp.waitForMessages(sent.size, 30_000);
  for (const [email, code] of sent) {
    const mail = smtp.messages.find((message) => recipientOf(message) === email);
    expect(mail?.text, email).toContain(code);
  }
  const afterwards = await everythingInRedis();
  for (const code of codes) expect(afterwards).not.toContain(code);
  expect(m.bodies.join('\n')).not.toMatch(/\$enc|v1:[0-9a-f]{8}:/);
});

it('still takes clear text from a plain BullMQ producer', async () => {
  const code = newCode();
  const job = await w
    .queue('auth_emails')
    .add('send_otp_verification_email', { email: 'plain@example.com', otp: code });
  await job.waitUntilFinished(await w.events('auth_emails'), 15_000);
  const mail = await waitFor(() =>
    smtp.messages.find((message) => recipientOf(message) === 'plain@example.com'),
  );
  expect(mail.text).toContain(code);
});

it('fails a code it cannot decrypt for good, saying why, and shows no ciphertext in the API', async () => {
  const job = await w.queue('auth_emails').add('send_otp_verification_email', {
    email: 'foreign-key@example.com',
    otp: { $enc: 'v1:deadbeef:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA:AAAA' },
  });
  const failed = await failedJob(w, job);
  expect(failed.failedReason).toBe(
    'cannot decrypt field otp of send_otp_verification_email: encrypted with key deadbeef, which is not in PAYLOAD_ENCRYPTION_KEY',
  );
  expect(failed.attemptsStarted).toBe(1);
  const view = await m.request(`/api/jobs/${job.id}?queue=auth_emails`, { auth: bearer(API_TOKEN) });
  expect(view.status).toBe(200);
  expect(view.text).not.toMatch(/\$enc|AAAAAAAAAAAAAAAA/);
});
