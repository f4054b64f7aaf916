/**
 * How jobs fail: transient SMTP replies retry with backoff and deliver once; permanent ones (5xx, a missing or
 * inactive user, an invalid payload, an unknown task) fail at once, keep their payload and are logged as dead
 * letters.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { startTestWorkers, type TestWorkers, smtpEnv, databaseEnv } from '../helpers/workers.js';

let smtp: SmtpSink;
let db: TestSchema;
let w: TestWorkers;

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('failures');
  await db.addUser({ id: 1, email: 'active@example.com' });
  await db.addUser({ id: 2, email: 'gone@example.com', is_active: false });
  w = await startTestWorkers('failures', {
    ...smtpEnv(smtp),
    ...databaseEnv(db),
  });
});

afterAll(async () => {
  await w?.stop();
  await smtp?.close();
  await db?.drop();
});

beforeEach(() => {
  smtp.reply = () => undefined;
});

async function failed(job: Job): Promise<Job> {
  await expect(job.waitUntilFinished(await w.events(job.queueName as never), 15_000)).rejects.toThrow();
  const reloaded = await w.queue(job.queueName as never).getJob(job.id!);
  expect(await reloaded!.getState()).toBe('failed');
  return reloaded!;
}

const sentTo = (address: string) =>
  smtp.messages.filter((m) => m.to && 'value' in m.to && m.to.value[0]?.address === address).length;

describe('transient failures', () => {
  it('retries a 421 without charging an attempt, and then delivers exactly one message', async () => {
    const start = smtp.transactions;
    smtp.reply = (n) => (n === start + 1 ? { code: 421, message: 'Try again later' } : undefined);
    const job = await w.queue('auth_emails').add('send_welcome_email', { email: 'retry-421@example.com' });
    const result = await job.waitUntilFinished(await w.events('auth_emails'), 15_000);
    expect(result.success).toBe(true);
    expect(sentTo('retry-421@example.com')).toBe(1);
    const reloaded = await w.queue('auth_emails').getJob(job.id!);
    expect(reloaded!.attemptsStarted).toBe(2);
    const { logs } = await w.queue('auth_emails').getJobLogs(job.id!);
    expect(logs).toEqual([
      expect.stringMatching(/^run 1: SMTP 421 .*\(not charged: smtp outage; retry in \d+ ms\)$/),
    ]);
  });

  it('gives up after MAX_RETRIES + 1 attempts and keeps the error history', async () => {
    smtp.reply = () => ({ code: 451, message: 'Temporary local problem' });
    const job = await w.queue('auth_emails').add('send_welcome_email', { email: 'always-451@example.com' });
    const dead = await failed(job);
    expect(dead.attemptsStarted).toBe(4);
    expect(dead.failedReason).toMatch(/failed after 4 attempts: SMTP 451/);
    expect(dead.data).toEqual({ email: 'always-451@example.com' });
    const { logs } = await w.queue('auth_emails').getJobLogs(job.id!);
    expect(logs).toHaveLength(4);
  });
});

describe('permanent failures', () => {
  it('fails a 550 reply at once without retry', async () => {
    const start = smtp.transactions;
    smtp.reply = () => ({ code: 550, message: 'No such user here' });
    const job = await w.queue('auth_emails').add('send_welcome_email', { email: 'unknown-550@example.com' });
    const dead = await failed(job);
    expect(dead.attemptsStarted).toBe(1);
    expect(dead.failedReason).toMatch(/550/);
    expect(smtp.transactions - start).toBe(1);
  });

  it('fails a user_id of an inactive user without retry', async () => {
    const job = await w.queue('booking_emails').add('send_booking_confirmation', {
      user_id: 2,
      booking_data: { event_name: 'X' },
    });
    const dead = await failed(job);
    expect(dead.failedReason).toBe('user 2 not found or inactive');
    expect(dead.attemptsStarted).toBe(1);
    expect(sentTo('gone@example.com')).toBe(0);
  });

  it('fails a user_id that does not exist without retry', async () => {
    const job = await w
      .queue('waitlist_emails')
      .add('send_waitlist_joined', { user_id: 404, waitlist_data: {} });
    expect((await failed(job)).failedReason).toBe('user 404 not found or inactive');
  });

  it('fails an invalid payload without retry, naming the field', async () => {
    const job = await w.queue('booking_emails').add('send_booking_confirmation', {
      user_id: 1,
      booking_data: { quantity: 0 },
    });
    const dead = await failed(job);
    expect(dead.failedReason).toMatch(
      /^invalid payload for send_booking_confirmation: booking_data\.quantity: /,
    );
    expect(dead.attemptsStarted).toBe(1);
    expect(dead.data).toEqual({ user_id: 1, booking_data: { quantity: 0 } });
  });

  it('fails an unknown task without retry', async () => {
    const job = await w.queue('auth_emails').add('send_birthday_card', { email: 'x@example.com' });
    const dead = await failed(job);
    expect(dead.failedReason).toMatch(/^unknown task send_birthday_card/);
    expect(dead.attemptsStarted).toBe(1);
  });

  it('logs a dead letter once at fatal level with a masked recipient', async () => {
    smtp.reply = () => ({ code: 550, message: 'Mailbox unavailable <dead-letter@example.com>' });
    const job = await w.queue('auth_emails').add('send_welcome_email', { email: 'dead-letter@example.com' });
    await failed(job);
    const fatal = await waitFor(() => {
      const lines = w.logs.filter((l) => l.level === 60 && l.jobId === job.id);
      return lines.length ? lines : undefined;
    });
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({
      task: 'send_welcome_email',
      queue: 'auth_emails',
      to: 'd***@example.com',
    });
    expect(fatal[0]!.runs).toBe(1);
    expect(fatal[0]!.lastError).toMatch(/550/);
    expect(JSON.stringify(w.logs)).not.toContain('dead-letter@example.com');
  });
});

describe('logs', () => {
  it('write one outcome line per job with its duration, and never the payload or the OTP', async () => {
    const job = await w.queue('auth_emails').add('send_otp_verification_email', {
      email: 'logged@example.com',
      otp: '918273',
      correlation_id: 'req-abc-123',
    });
    await job.waitUntilFinished(await w.events('auth_emails'), 15_000);
    const lines = await waitFor(() => {
      const found = w.logs.filter((l) => l.jobId === job.id);
      return found.length ? found : undefined;
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      outcome: 'sent',
      task: 'send_otp_verification_email',
      queue: 'auth_emails',
      run: 1,
      correlationId: 'req-abc-123',
      to: 'l***@example.com',
    });
    expect(typeof lines[0]!.durationMs).toBe('number');
    const all = JSON.stringify(w.logs);
    expect(all).not.toContain('918273');
    expect(all).not.toContain('logged@example.com');
  });
});
