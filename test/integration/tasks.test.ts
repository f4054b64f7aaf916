/**
 * Every task, enqueued by name with plain BullMQ exactly as the old Celery producers sent it, arrives at a real
 * SMTP server as a correct email: To, From, Subject, and the payload's values in both the HTML and text parts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParsedMail } from 'mailparser';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startTestWorkers, type TestWorkers, smtpEnv, databaseEnv } from '../helpers/workers.js';
import type { QueueName } from '../../src/tasks/define-task.js';

let smtp: SmtpSink;
let db: TestSchema;
let w: TestWorkers;

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('tasks');
  await db.addUser({ id: 42, email: 'grace@example.com', full_name: 'Grace Hopper' });
  w = await startTestWorkers('tasks', {
    ...smtpEnv(smtp),
    ...databaseEnv(db),
  });
});

afterAll(async () => {
  await w?.stop();
  await smtp?.close();
  await db?.drop();
});

async function deliver(queue: QueueName, name: string, data: Record<string, unknown>) {
  const job = await w.queue(queue).add(name, data);
  const result = await job.waitUntilFinished(await w.events(queue), 15_000);
  const bare = (id: string | undefined) => id?.replace(/^<|>$/g, '');
  const mail = smtp.messages.find((m) => bare(m.messageId) === bare(result.message_id));
  expect(mail, 'message received by the SMTP server').toBeDefined();
  return { result, mail: mail as ParsedMail };
}

function expectBoth(mail: ParsedMail, ...values: string[]) {
  for (const value of values) {
    expect(mail.html, `HTML part carries ${value}`).toContain(value);
    expect(mail.text, `text part carries ${value}`).toContain(value);
  }
}

function expectEnvelope(mail: ParsedMail, to: string, subject: RegExp) {
  expect(mail.to && 'value' in mail.to ? mail.to.value[0]?.address : undefined).toBe(to);
  expect(mail.from?.value[0]).toMatchObject({
    address: 'bookings@events.example.com',
    name: 'Event Platform',
  });
  expect(mail.subject).toMatch(subject);
}

describe('the old producers’ payloads', () => {
  it('send_otp_verification_email delivers the code with its expiry', async () => {
    const { result, mail } = await deliver('auth_emails', 'send_otp_verification_email', {
      email: 'ada@example.com',
      otp: '482913',
      user_data: { username: 'ada', full_name: 'Ada Lovelace' },
    });
    expectEnvelope(mail, 'ada@example.com', /verification code/i);
    expect(mail.subject).not.toContain('482913');
    expectBoth(mail, '482913', 'Ada Lovelace', '10 minutes');
    expect(result).toMatchObject({ success: true, email: 'ada@example.com', otp_sent: true });
    expect(result.smtp_response).toMatch(/^250/);
  });

  it('send_welcome_email delivers the welcome with next steps', async () => {
    const { result, mail } = await deliver('auth_emails', 'send_welcome_email', {
      email: 'ada@example.com',
      user_data: { username: 'ada', full_name: 'Ada Lovelace' },
    });
    expectEnvelope(mail, 'ada@example.com', /welcome/i);
    expectBoth(mail, 'Ada Lovelace', 'https://events.example.com');
    expect(result).toMatchObject({ success: true, email: 'ada@example.com', welcome_sent: true });
  });

  it('send_booking_confirmation looks up the user and delivers the booking details', async () => {
    const { result, mail } = await deliver('booking_emails', 'send_booking_confirmation', {
      user_id: 42,
      booking_data: {
        event_name: 'PyCon Lisbon',
        booking_id: 'BK-777',
        quantity: 3,
        total_price: 120.5,
        booking_date: '2026-03-01T09:30:00Z',
      },
    });
    expectEnvelope(mail, 'grace@example.com', /PyCon Lisbon/);
    expectBoth(mail, 'PyCon Lisbon', 'BK-777', '$120.50', '3 tickets', 'March 1, 2026');
    expect(result).toMatchObject({
      success: true,
      email: 'grace@example.com',
      user_id: 42,
      booking_id: 'BK-777',
    });
  });

  it('send_booking_cancellation delivers the reason and the refund', async () => {
    const { result, mail } = await deliver('booking_emails', 'send_booking_cancellation', {
      user_id: 42,
      cancellation_data: {
        event_name: 'PyCon Lisbon',
        booking_id: 'BK-777',
        refund_amount: '120.50',
        reason: 'Venue closed for renovation',
      },
    });
    expectEnvelope(mail, 'grace@example.com', /cancel/i);
    expectBoth(mail, 'PyCon Lisbon', 'BK-777', '$120.50', 'Venue closed for renovation');
    expect(result).toMatchObject({ success: true, user_id: 42, booking_id: 'BK-777' });
  });

  it('send_waitlist_notification delivers the offer, its deadline and the claim link', async () => {
    const { result, mail } = await deliver('waitlist_emails', 'send_waitlist_notification', {
      user_id: 42,
      waitlist_data: { event_name: 'PyCon Lisbon', position: 1, expiry_minutes: 45 },
    });
    expectEnvelope(mail, 'grace@example.com', /PyCon Lisbon/);
    expectBoth(mail, 'PyCon Lisbon', '45 minutes', 'https://events.example.com');
    expect(result).toMatchObject({ success: true, user_id: 42, waitlist_position: 1 });
  });

  it('send_waitlist_joined delivers the position', async () => {
    const { result, mail } = await deliver('waitlist_emails', 'send_waitlist_joined', {
      user_id: 42,
      waitlist_data: { event_name: 'PyCon Lisbon', position: 7, joined_date: '2026-03-02T12:00:00Z' },
    });
    expectEnvelope(mail, 'grace@example.com', /waitlist/i);
    expectBoth(mail, 'PyCon Lisbon', '#7', 'March 2, 2026');
    expect(result).toMatchObject({ success: true, user_id: 42, position: 7 });
  });

  it('send_waitlist_cancellation delivers the cancellation and the rejoin link', async () => {
    const { result, mail } = await deliver('waitlist_emails', 'send_waitlist_cancellation', {
      user_id: 42,
      waitlist_data: { event_name: 'PyCon Lisbon', cancellation_date: '2026-03-03T08:00:00Z' },
    });
    expectEnvelope(mail, 'grace@example.com', /waitlist/i);
    expectBoth(mail, 'PyCon Lisbon', 'March 3, 2026', 'https://events.example.com');
    expect(result).toMatchObject({ success: true, user_id: 42 });
  });

  it('health_check sends nothing and reports every component', async () => {
    const before = smtp.transactions;
    const job = await w.queue('system').add('health_check', {});
    const result = await job.waitUntilFinished(await w.events('system'), 15_000);
    expect(result).toMatchObject({
      status: 'healthy',
      service: 'email_workers',
      config_loaded: true,
      components: {
        redis: { ok: true },
        smtp: { ok: true },
        database: { ok: true },
        templates: { ok: true },
      },
    });
    expect(Date.parse(result.timestamp)).not.toBeNaN();
    expect(smtp.transactions).toBe(before);
  });
});

describe('routing', () => {
  it('accepts the old qualified task names', async () => {
    const { result } = await deliver('auth_emails', 'email_workers.tasks.send_welcome_email', {
      email: 'qualified@example.com',
    });
    expect(result).toMatchObject({ success: true, email: 'qualified@example.com' });
  });

  it('processes a known task that arrives on another queue', async () => {
    const { result } = await deliver('system', 'send_welcome_email', { email: 'misrouted@example.com' });
    expect(result).toMatchObject({ success: true, email: 'misrouted@example.com' });
  });

  it('uses the given email of a user_id task without a lookup', async () => {
    const { mail } = await deliver('booking_emails', 'send_booking_confirmation', {
      user_id: 999_999,
      email: 'direct@example.com',
      booking_data: { event_name: 'Direct' },
    });
    expectEnvelope(mail, 'direct@example.com', /Direct/);
  });

  it('takes a Python producer’s None as an absent field', async () => {
    const { mail } = await deliver('booking_emails', 'send_booking_cancellation', {
      user_id: 42,
      cancellation_data: { event_name: 'None Fest', booking_id: null, refund_amount: null, reason: null },
    });
    expectEnvelope(mail, 'grace@example.com', /None Fest/);
    expect(mail.text).not.toContain('null');
  });

  it('escapes HTML in payload values', async () => {
    const { mail } = await deliver('auth_emails', 'send_welcome_email', {
      email: 'xss@example.com',
      user_data: { full_name: '<script>alert(1)</script>' },
    });
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&lt;script&gt;');
  });
});
