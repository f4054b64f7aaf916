import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it, expect } from 'vitest';
import { jsonSchemaFiles } from '@email-workers/client/internal';
import { dropNulls } from '@email-workers/client/internal';
import { TASK_NAMES, tasks, type TaskName } from '../../src/tasks/registry.js';

const SCHEMAS_DIR = resolve(import.meta.dirname, '../../packages/client/schemas');

function parse(task: TaskName, payload: unknown): unknown {
  return tasks[task].schema.parse(payload);
}

/** The dotted paths of the fields `payload` is refused for; empty when it parses. */
function refusedFields(task: TaskName, payload: unknown): string[] {
  const result = tasks[task].schema.safeParse(payload);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'));
}

const otp = {
  email: 'ada@example.com',
  otp: '123456',
  user_data: { username: 'ada', full_name: 'Ada Lovelace' },
};
const bookingConfirmation = {
  user_id: 42,
  booking_data: {
    event_name: 'JSConf EU',
    booking_id: 'BK-10293',
    quantity: 2,
    total_price: 99.99,
    booking_date: '2026-04-02T10:15:00.123456',
  },
};
const bookingCancellation = {
  user_id: 42,
  cancellation_data: {
    event_name: 'JSConf EU',
    booking_id: 'BK-10293',
    refund_amount: 99.99,
    reason: 'Cancelled by the organiser',
  },
};
const waitlistNotification = {
  user_id: 42,
  waitlist_data: {
    event_name: 'JSConf EU',
    position: 1,
    expiry_minutes: 30,
    claim_url: 'https://events.example.com/claim/abc',
  },
};

describe('payloads as the old Celery producers send them', () => {
  it('parses an OTP email', () => {
    expect(parse('send_otp_verification_email', otp)).toMatchObject(otp);
  });

  it('reads an OTP sent as a Python int as its digits', () => {
    expect(parse('send_otp_verification_email', { ...otp, otp: 123456 })).toMatchObject({ otp: '123456' });
  });

  it('parses a welcome email', () => {
    const payload = { email: 'ada@example.com', user_data: { username: 'ada', full_name: 'Ada Lovelace' } };
    expect(parse('send_welcome_email', payload)).toMatchObject(payload);
  });

  it('parses a booking confirmation', () => {
    expect(parse('send_booking_confirmation', bookingConfirmation)).toMatchObject(bookingConfirmation);
  });

  it('reads a total_price sent as a string (Python Decimal) as a number', () => {
    const payload = {
      ...bookingConfirmation,
      booking_data: { ...bookingConfirmation.booking_data, total_price: '99.99' },
    };
    expect(parse('send_booking_confirmation', payload)).toMatchObject({
      booking_data: { total_price: 99.99 },
    });
  });

  it('accepts a user_id that is a UUID', () => {
    const payload = { ...bookingConfirmation, user_id: '1b4e28ba-2fa1-11d2-883f-0016d3cca427' };
    expect(parse('send_booking_confirmation', payload)).toMatchObject({
      user_id: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
    });
  });

  it('parses a booking cancellation', () => {
    expect(parse('send_booking_cancellation', bookingCancellation)).toMatchObject(bookingCancellation);
  });

  it('parses a waitlist notification', () => {
    expect(parse('send_waitlist_notification', waitlistNotification)).toMatchObject(waitlistNotification);
  });

  it('parses a waitlist joined email', () => {
    const payload = {
      user_id: 42,
      waitlist_data: { event_name: 'JSConf EU', position: 3, joined_date: '2026-04-02T10:15:00' },
    };
    expect(parse('send_waitlist_joined', payload)).toMatchObject(payload);
  });

  it('parses a waitlist cancellation', () => {
    const payload = {
      user_id: 42,
      waitlist_data: { event_name: 'JSConf EU', cancellation_date: '2026-04-03T08:00:00' },
    };
    expect(parse('send_waitlist_cancellation', payload)).toMatchObject(payload);
  });

  it('parses an empty health check', () => {
    expect(parse('health_check', {})).toEqual({});
  });
});

describe('defaults', () => {
  it('names the event "Event" when event_name is missing', () => {
    expect(parse('send_booking_cancellation', { user_id: 42, cancellation_data: {} })).toMatchObject({
      cancellation_data: { event_name: 'Event' },
    });
  });

  it('books a quantity of 1', () => {
    expect(parse('send_booking_confirmation', { user_id: 42, booking_data: {} })).toMatchObject({
      booking_data: { quantity: 1 },
    });
  });

  it('dates a booking today, as an ISO string', () => {
    const before = Date.now();
    const { booking_data } = parse('send_booking_confirmation', { user_id: 42, booking_data: {} }) as {
      booking_data: { booking_date: string };
    };
    expect(booking_data.booking_date).toBe(new Date(booking_data.booking_date).toISOString());
    expect(Date.parse(booking_data.booking_date)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(booking_data.booking_date)).toBeLessThanOrEqual(Date.now());
  });

  it('places a waitlist notification at position 1, claimable for 30 minutes', () => {
    expect(parse('send_waitlist_notification', { user_id: 42, waitlist_data: {} })).toMatchObject({
      waitlist_data: { position: 1, expiry_minutes: 30 },
    });
  });

  it('places a waitlist joiner at position 1', () => {
    expect(parse('send_waitlist_joined', { user_id: 42, waitlist_data: {} })).toMatchObject({
      waitlist_data: { position: 1 },
    });
  });

  it('lets an OTP expire after 10 minutes', () => {
    expect(parse('send_otp_verification_email', otp)).toMatchObject({ expires_in_minutes: 10 });
  });
});

describe('unknown keys', () => {
  it('are accepted and stripped, at the top level and inside nested objects', () => {
    const payload = {
      ...bookingConfirmation,
      legacy_flag: true,
      booking_data: { ...bookingConfirmation.booking_data, seat_map: [1, 2] },
    };
    const parsed = parse('send_booking_confirmation', payload) as Record<string, Record<string, unknown>>;
    expect(parsed).not.toHaveProperty('legacy_flag');
    expect(parsed.booking_data).not.toHaveProperty('seat_map');
  });
});

describe('invalid payloads are refused, naming the field', () => {
  it('booking_data.quantity for a quantity of 0', () => {
    const payload = {
      ...bookingConfirmation,
      booking_data: { ...bookingConfirmation.booking_data, quantity: 0 },
    };
    expect(refusedFields('send_booking_confirmation', payload)).toEqual(['booking_data.quantity']);
  });

  it('otp for a code that is not digits', () => {
    expect(refusedFields('send_otp_verification_email', { ...otp, otp: 'abc' })).toEqual(['otp']);
  });

  it('email for an address without @', () => {
    expect(refusedFields('send_otp_verification_email', { ...otp, email: 'not-an-email' })).toEqual([
      'email',
    ]);
  });

  it.each([
    'ada@example.com, outsider@example.com',
    'grp: ada@example.com, outsider@example.com;',
    'grp:ada@example.com',
    'Ada <ada@example.com>',
  ])('email for %j, which is not one bare mailbox', (email) => {
    expect(refusedFields('send_otp_verification_email', { ...otp, email })).toEqual(['email']);
  });

  it('user_id for a negative id', () => {
    expect(refusedFields('send_booking_confirmation', { ...bookingConfirmation, user_id: -1 })).toEqual([
      'user_id',
    ]);
  });

  it('waitlist_data.claim_url for a javascript: URL', () => {
    const payload = {
      ...waitlistNotification,
      waitlist_data: { ...waitlistNotification.waitlist_data, claim_url: 'javascript:alert(1)' },
    };
    expect(refusedFields('send_waitlist_notification', payload)).toEqual(['waitlist_data.claim_url']);
  });

  it('locale for a tag that is no BCP 47 locale', () => {
    expect(refusedFields('send_welcome_email', { email: 'ada@example.com', locale: 'xx_invalid!!' })).toEqual(
      ['locale'],
    );
  });

  it('time_zone for a zone that is not in the IANA database', () => {
    expect(
      refusedFields('send_welcome_email', { email: 'ada@example.com', time_zone: 'Mars/Olympus' }),
    ).toEqual(['time_zone']);
  });

  it('booking_data.event_name for a 10,000-character name', () => {
    const payload = {
      ...bookingConfirmation,
      booking_data: { ...bookingConfirmation.booking_data, event_name: 'x'.repeat(10_000) },
    };
    expect(refusedFields('send_booking_confirmation', payload)).toEqual(['booking_data.event_name']);
  });

  it('the booking_data itself when it is not an object', () => {
    expect(refusedFields('send_booking_confirmation', { user_id: 42, booking_data: 'BK-1' })).toEqual([
      'booking_data',
    ]);
  });
});

describe('payloads shaped by Python', () => {
  const booking = (booking_data: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    parse('send_booking_confirmation', { user_id: 42, booking_data, ...extra }) as {
      user_id: string | number;
      expires_at?: string;
      booking_data: Record<string, unknown>;
    };

  it.each([
    ['1E+2', 100],
    ['1.5E-1', 0.15],
    ['1e3', 1000],
    ['0E-8', 0],
    ['149.50', 149.5],
  ])('reads the Decimal %j as %d', (text, value) => {
    expect(booking({ total_price: text }).booking_data.total_price).toBe(value);
  });

  it('reads the Decimal "-0" as 0, not -0', () => {
    expect(Object.is(booking({ total_price: '-0' }).booking_data.total_price, 0)).toBe(true);
    const cancellation = parse('send_booking_cancellation', {
      user_id: 42,
      cancellation_data: { refund_amount: '-0' },
    }) as { cancellation_data: { refund_amount: number } };
    expect(Object.is(cancellation.cancellation_data.refund_amount, 0)).toBe(true);
  });

  it('reads a whole Decimal quantity such as "1E+1"', () => {
    expect(booking({ quantity: '1E+1' }).booking_data.quantity).toBe(10);
  });

  it.each(['2026-05-01T18:00:00', '2026-05-01T18:00:00.123456'])(
    'takes a naive expires_at (%s) as UTC',
    (naive) => {
      const { expires_at } = booking({}, { expires_at: naive });
      expect(expires_at).toBe(`${naive}Z`);
      expect(new Date(expires_at!).toISOString()).toBe(
        `${naive.slice(0, 19)}${naive.length > 19 ? '.123' : '.000'}Z`,
      );
    },
  );

  it('keeps an expires_at with an offset as it is', () => {
    expect(booking({}, { expires_at: '2026-05-01T18:00:00+02:00' }).expires_at).toBe(
      '2026-05-01T18:00:00+02:00',
    );
  });

  it.each(['2026-05-01T18:00:00', '2026-05-01T18:00:00.123456'])(
    'accepts a naive date (%s) in booking_data',
    (naive) => {
      expect(booking({ booking_date: naive, event_date: naive }).booking_data).toMatchObject({
        booking_date: naive,
        event_date: naive,
      });
    },
  );

  it('accepts a user_id beyond 2^53 as a numeric string, exactly', () => {
    expect(booking({}, { user_id: '9223372036854775807' }).user_id).toBe('9223372036854775807');
  });

  it('reads a zero-padded user_id "007" as user 7', () => {
    expect(booking({}, { user_id: '007' }).user_id).toBe('7');
  });

  it('keeps the leading zeros of a UUID user_id', () => {
    expect(booking({}, { user_id: '0054b59f-85d7-48c3-82f6-d9c08fd30ddf' }).user_id).toBe(
      '0054b59f-85d7-48c3-82f6-d9c08fd30ddf',
    );
  });

  it('refuses a user_id beyond 2^53 as a JSON number, saying to send a string', () => {
    const result = tasks.send_booking_confirmation.schema.safeParse({
      user_id: 2 ** 53 + 2,
      booking_data: {},
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]).toMatchObject({
      path: ['user_id'],
      message: expect.stringMatching(/as a string/),
    });
  });

  it.each([
    ['send_booking_confirmation', 'booking_data', { quantity: 1, event_name: 'Event' }],
    ['send_booking_cancellation', 'cancellation_data', { event_name: 'Event' }],
    ['send_waitlist_notification', 'waitlist_data', { position: 1, expiry_minutes: 30 }],
    ['send_waitlist_joined', 'waitlist_data', { position: 1 }],
    ['send_waitlist_cancellation', 'waitlist_data', { event_name: 'Event' }],
  ] as const)('gives %s a %s of None the defaults', (task, field, defaults) => {
    expect(parse(task, dropNulls({ user_id: 42, [field]: null }))).toMatchObject({ [field]: defaults });
  });
});

describe('values that look right and are not, refused naming the field', () => {
  it.each([true, [5], '5abc', '1.5', '', 'NaN'])('booking_data.quantity for %j', (quantity) => {
    expect(refusedFields('send_booking_confirmation', { user_id: 42, booking_data: { quantity } })).toEqual([
      'booking_data.quantity',
    ]);
  });

  it.each([true, [5], '5abc'])('waitlist_data.expiry_minutes for %j', (expiry_minutes) => {
    expect(
      refusedFields('send_waitlist_notification', { user_id: 42, waitlist_data: { expiry_minutes } }),
    ).toEqual(['waitlist_data.expiry_minutes']);
  });

  it.each([true, 'Infinity', '12,50'])('booking_data.total_price for %j', (total_price) => {
    expect(
      refusedFields('send_booking_confirmation', { user_id: 42, booking_data: { total_price } }),
    ).toEqual(['booking_data.total_price']);
  });

  it.each([
    ['a right-to-left override', '\u202eAda'],
    ['a left-to-right embedding', 'Ada\u202a'],
    ['a first-strong isolate', 'A\u2068da'],
    ['a pop-directional isolate', 'Ada\u2069'],
    ['a zero-width space', 'Ada\u200bLovelace'],
    ['a zero-width joiner', 'Ada\u200d'],
    ['a word joiner', 'A\u2060da'],
    ['a byte-order mark at the start', '\ufeffAda'],
    ['a left-to-right mark', 'Ada\u200e'],
    ['a right-to-left mark', '\u200fAda'],
    ['an Arabic letter mark', 'A\u061cda'],
  ])('user_data.full_name with %s', (_what, full_name) => {
    expect(
      refusedFields('send_welcome_email', { email: 'ada@example.com', user_data: { full_name } }),
    ).toEqual(['user_data.full_name']);
  });

  it('booking_data.event_name and venue with a right-to-left override', () => {
    expect(
      refusedFields('send_booking_confirmation', {
        user_id: 42,
        booking_data: { event_name: 'Conf \u202egnp.exe', venue: 'Hall \u202e1' },
      }).sort(),
    ).toEqual(['booking_data.event_name', 'booking_data.venue']);
  });
});

describe('schemas/*.json', () => {
  it.each(jsonSchemaFiles())('schemas/%s matches the task schema', (file, generated) => {
    const path = resolve(SCHEMAS_DIR, file);
    const onDisk = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    expect(onDisk, `schemas/${file} is missing or stale: run \`npm run schemas\``).toBe(generated);
  });

  it('holds one file for each of the 8 tasks and no other', () => {
    const files = readdirSync(SCHEMAS_DIR).filter((file) => file.endsWith('.json'));
    expect(files.sort(), 'run `npm run schemas` and delete files of removed tasks').toEqual(
      TASK_NAMES.map((name) => `${name}.json`).sort(),
    );
    expect(files).toHaveLength(8);
  });
});
