/**
 * A code or an offer that could not be sent in time is not sent at all: after an outage a stale OTP is worse
 * than none. Expiry counts from the enqueue.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startTestWorkers, type TestWorkers, smtpEnv } from '../helpers/workers.js';

let smtp: SmtpSink;
let w: TestWorkers;

beforeAll(async () => {
  smtp = await startSmtpSink();
  w = await startTestWorkers('expiry', {
    ...smtpEnv(smtp),
    RETRY_DELAY: '400ms',
  });
});

afterAll(async () => {
  await w?.stop();
  await smtp?.close();
});

describe('expiry', () => {
  it('never sends an OTP whose expiry passes while the SMTP server is down', async () => {
    smtp.reply = () => ({ code: 421, message: 'Service not available' });
    // Enqueued 9 min 59 s ago with the default 10-minute expiry: the first attempt fails, the retry is too late.
    const job = await w
      .queue('auth_emails')
      .add(
        'send_otp_verification_email',
        { email: 'late-otp@example.com', otp: '111222' },
        { timestamp: Date.now() - (10 * 60_000 - 300) },
      );
    await expect(job.waitUntilFinished(await w.events('auth_emails'), 15_000)).rejects.toThrow(/expired/);
    smtp.reply = () => undefined;
    const reloaded = await w.queue('auth_emails').getJob(job.id!);
    expect(reloaded!.failedReason).toMatch(/^expired/);
    expect(smtp.messages).toHaveLength(0);
  });

  it('does not send a waitlist offer past its expiry_minutes', async () => {
    const job = await w
      .queue('waitlist_emails')
      .add(
        'send_waitlist_notification',
        { user_id: 1, email: 'offer@example.com', waitlist_data: { event_name: 'X', expiry_minutes: 5 } },
        { timestamp: Date.now() - 6 * 60_000 },
      );
    await expect(job.waitUntilFinished(await w.events('waitlist_emails'), 15_000)).rejects.toThrow(/expired/);
    expect(smtp.messages).toHaveLength(0);
  });

  it('honours expires_at on any task', async () => {
    const job = await w.queue('auth_emails').add('send_welcome_email', {
      email: 'expires-at@example.com',
      expires_at: new Date(Date.now() - 1000).toISOString(),
    });
    await expect(job.waitUntilFinished(await w.events('auth_emails'), 15_000)).rejects.toThrow(/expired/);
    expect(smtp.messages).toHaveLength(0);
  });

  it('sends an OTP that is still fresh', async () => {
    const job = await w.queue('auth_emails').add('send_otp_verification_email', {
      email: 'fresh@example.com',
      otp: '333444',
      expires_in_minutes: 1,
    });
    await job.waitUntilFinished(await w.events('auth_emails'), 15_000);
    expect(smtp.messages.map((m) => m.text)).toEqual([expect.stringContaining('333444')]);
  });
});
