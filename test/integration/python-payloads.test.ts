/**
 * Payloads as a Python producer writes them, made by a real python3 with the encoding Celery's JSON serializer
 * (kombu) uses: `str(Decimal)` (`"1E+2"`, `"-0"`) and naive `datetime.isoformat()`, plus a zero-padded and a
 * bigint `user_id` and `None` for a whole data object. They are delivered through the real workers; a naive
 * `expires_at` is taken as UTC even where the process's own zone is not UTC.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliver, failedJob, recipientOf } from '../helpers/jobs.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { databaseEnv, smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

// vitest runs each file in a process of its own: a naive time read as local time would be hours off here.
process.env.TZ = 'America/New_York';

const PYTHON = String.raw`
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

def kombu_default(o):
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, datetime):
        return o.isoformat()
    raise TypeError(repr(o))

now = datetime.now(timezone.utc).replace(tzinfo=None)  # naive UTC, as datetime.utcnow() gives it
print(json.dumps({
    "none_data": {"user_id": "007", "booking_data": None},
    "decimals": {
        "user_id": str(2**63 - 1),
        "email": "bigint@example.com",
        "booking_data": {
            "event_name": "PyCon",
            "quantity": Decimal("2"),
            "total_price": Decimal("100").normalize(),
            "booking_date": datetime(2026, 4, 2, 10, 15, 0, 123456),
            "event_date": datetime(2026, 5, 1, 18, 0),
        },
        "expires_at": now + timedelta(hours=1),
    },
    "negative_zero": {"user_id": 7, "booking_data": {"total_price": Decimal("-0")}},
    "cancellation": {
        "user_id": 7,
        "cancellation_data": {"refund_amount": Decimal("1.5E+2"), "refund_expected_days": Decimal("5")},
    },
    "expired": {"user_id": 7, "booking_data": {}, "expires_at": now - timedelta(minutes=1)},
}, default=kombu_default))
`;

type Payload = Record<string, unknown>;
let payloads: Record<string, Payload>;
let smtp: SmtpSink;
let db: TestSchema;
let w: TestWorkers;

beforeAll(async () => {
  payloads = JSON.parse(execFileSync('python3', ['-c', PYTHON], { encoding: 'utf8' }));
  smtp = await startSmtpSink();
  db = await createTestSchema('python');
  await db.addUser({ id: 7, email: 'member7@example.com' });
  w = await startTestWorkers(
    'python',
    { ...smtpEnv(smtp), ...databaseEnv(db) },
    { queues: ['booking_emails'] },
  );
});

afterAll(async () => {
  await w?.stop();
  await smtp?.close();
  await db?.drop();
});

describe('a payload written by Python', () => {
  it('is what the test meant to send: Decimal as "1E+2" and "-0", datetimes without an offset', () => {
    const decimals = payloads.decimals!.booking_data as Payload;
    expect(decimals.total_price).toBe('1E+2');
    expect(decimals.booking_date).toBe('2026-04-02T10:15:00.123456');
    expect(payloads.decimals!.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/);
    expect((payloads.negative_zero!.booking_data as Payload).total_price).toBe('-0');
    expect((payloads.cancellation!.cancellation_data as Payload).refund_amount).toBe('1.5E+2');
  });

  it('with booking_data None and a zero-padded user_id "007" goes to user 7 with the defaults', async () => {
    const { mail, result } = await deliver(
      w,
      smtp,
      'booking_emails',
      'send_booking_confirmation',
      payloads.none_data!,
    );
    expect(recipientOf(mail)).toBe('member7@example.com');
    expect(result).toMatchObject({ success: true, user_id: '7' });
    expect(mail.text).toMatch(/^Event: +Event$/m);
    expect(mail.text).toMatch(/^Tickets: +1 ticket$/m);
  });

  it('with Decimals, naive datetimes and a bigint user_id is delivered, dates read as UTC', async () => {
    const { mail, result } = await deliver(
      w,
      smtp,
      'booking_emails',
      'send_booking_confirmation',
      payloads.decimals!,
    );
    expect(recipientOf(mail)).toBe('bigint@example.com');
    expect(result).toMatchObject({ success: true, user_id: '9223372036854775807' });
    expect(mail.text).toMatch(/^Total paid: +\$100\.00$/m);
    expect(mail.text).toMatch(/^Tickets: +2 tickets$/m);
    expect(mail.text).toMatch(/^Date: +May 1, 2026.* 6:00\sPM UTC$/m);
    expect(mail.text).toMatch(/^Booked on: +April 2, 2026$/m);
  });

  it('with a Decimal "-0" shows $0.00, not -$0.00', async () => {
    const { mail } = await deliver(
      w,
      smtp,
      'booking_emails',
      'send_booking_confirmation',
      payloads.negative_zero!,
    );
    expect(mail.text).toMatch(/^Total paid: +\$0\.00$/m);
  });

  it('with a Decimal refund in exponent form is delivered with the amount', async () => {
    const { mail } = await deliver(
      w,
      smtp,
      'booking_emails',
      'send_booking_cancellation',
      payloads.cancellation!,
    );
    expect(mail.text).toMatch(/^Refund: +\$150\.00$/m);
    expect(mail.text).toMatch(/within 5 days/);
  });

  it('with a naive expires_at a minute ago is expired, the time taken as UTC', async () => {
    const before = smtp.messages.length;
    const naive = payloads.expired!.expires_at as string;
    const job = await w.queue('booking_emails').add('send_booking_confirmation', payloads.expired!);
    const dead = await failedJob(w, job);
    expect(dead.failedReason).toBe(`expired (at ${new Date(`${naive}Z`).toISOString()})`);
    expect(smtp.messages.length).toBe(before);
  });
});
