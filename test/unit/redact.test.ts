import { describe, expect, it } from 'vitest';
import { maskName, REDACTED, redactDeep, redactJobValue } from '../../src/monitor/redact.js';

describe('redactJobValue (job data and results on the board and in the API)', () => {
  it('replaces an OTP code, whatever its type', () => {
    expect(redactJobValue({ email: 'ada@example.com', otp: '482913' })).toMatchObject({ otp: REDACTED });
    expect(redactJobValue({ otp: 482913 })).toEqual({ otp: REDACTED });
  });

  it('masks addresses and names, nested too', () => {
    expect(
      redactJobValue({
        email: 'ada@example.com',
        user_data: { full_name: 'Ada King Lovelace', username: 'ada' },
        booking_data: { note: 'write to grace@example.com' },
      }),
    ).toEqual({
      email: 'a***@example.com',
      user_data: { full_name: 'A*** K*** L***', username: 'a***' },
      booking_data: { note: 'write to g***@example.com' },
    });
  });

  it('leaves other values as they are', () => {
    expect(redactJobValue({ user_id: 42, booking_data: { quantity: 2, event_name: 'JSConf' } })).toEqual({
      user_id: 42,
      booking_data: { quantity: 2, event_name: 'JSConf' },
    });
  });
});

describe('redactDeep (whole bodies: failed reasons, stack traces, logs)', () => {
  it('masks addresses in every string and applies the job rules under data and returnValue', () => {
    expect(
      redactDeep({
        name: 'auth_emails',
        jobs: [
          {
            failedReason: 'SMTP 550 at RCPT TO: <ada@example.com> unknown',
            stacktrace: ['Error: ada@example.com'],
            data: { otp: '1234', user_data: { full_name: 'Ada' } },
            returnValue: { email: 'ada@example.com' },
          },
        ],
      }),
    ).toEqual({
      name: 'auth_emails',
      jobs: [
        {
          failedReason: 'SMTP 550 at RCPT TO: <a***@example.com> unknown',
          stacktrace: ['Error: a***@example.com'],
          data: { otp: REDACTED, user_data: { full_name: 'A***' } },
          returnValue: { email: 'a***@example.com' },
        },
      ],
    });
  });
});

describe('maskName', () => {
  it('keeps the first letter of each word', () => {
    expect(maskName('  Grace  Brewster Hopper ')).toBe('G*** B*** H***');
  });
});

describe('encrypted fields', () => {
  it('are shown as neither their ciphertext nor their clear text, under any key', () => {
    const sealed = { $enc: 'v1:3fa2c1d9:aXY:dGFn:Y3Q' };
    expect(redactJobValue({ email: sealed, otp: sealed })).toEqual({ email: REDACTED, otp: REDACTED });
    expect(redactDeep({ data: { note: sealed }, other: sealed })).toEqual({
      data: { note: REDACTED },
      other: REDACTED,
    });
  });
});
