import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../../src/errors.js';
import { parsePayload } from '@email-workers/client/internal';
import { tasks } from '../../src/tasks/registry.js';

describe('parsePayload', () => {
  it('treats a Python None (JSON null) as an absent field, so its default applies', () => {
    const payload = parsePayload(tasks.send_booking_cancellation, {
      user_id: 42,
      cancellation_data: { event_name: null, booking_id: 'BK-1', refund_amount: null, reason: null },
      locale: null,
    }) as { cancellation_data: Record<string, unknown>; locale?: string };
    expect(payload.cancellation_data).toEqual({ event_name: 'Event', booking_id: 'BK-1' });
    expect(payload.locale).toBeUndefined();
  });

  it('still refuses a null where a value is required, naming the field', () => {
    expect(() => parsePayload(tasks.send_booking_confirmation, { user_id: null, booking_data: {} })).toThrow(
      /invalid payload for send_booking_confirmation: user_id: /,
    );
  });

  it('refuses a payload nested thousands of levels deep as invalid, not with a stack overflow', () => {
    for (const deep of [
      '['.repeat(30_000) + ']'.repeat(30_000),
      '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000),
    ]) {
      const payload = { email: 'deep@example.com', extra: JSON.parse(deep) };
      expect(() => parsePayload(tasks.send_welcome_email, payload)).toThrow(InvalidPayloadError);
      expect(() => parsePayload(tasks.send_welcome_email, payload)).toThrow(
        /nested more than 64 levels deep/,
      );
    }
    const fine = { email: 'ok@example.com', extra: JSON.parse('['.repeat(60) + ']'.repeat(60)) };
    expect(parsePayload(tasks.send_welcome_email, fine)).toMatchObject({ email: 'ok@example.com' });
  });

  it('lists every bad field in one error', () => {
    try {
      parsePayload(tasks.send_otp_verification_email, { email: 'nope', otp: 'abc' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidPayloadError);
      expect((error as InvalidPayloadError).problems.map((p) => p.field).sort()).toEqual(['email', 'otp']);
    }
  });
});

describe('control characters', () => {
  it('refuses a NUL byte in free text, naming the field (PostgreSQL cannot store it)', () => {
    expect(() =>
      parsePayload(tasks.send_booking_cancellation, {
        user_id: 1,
        cancellation_data: { reason: 'oops\u0000' },
      }),
    ).toThrow(/cancellation_data\.reason: expected no control characters/);
    expect(() => parsePayload(tasks.send_welcome_email, { email: 'a\u0000b@example.com' })).toThrow(
      /email: /,
    );
    expect(() =>
      parsePayload(tasks.send_welcome_email, { email: 'a@example.com', correlation_id: 'x\ny' }),
    ).toThrow(/correlation_id: /);
  });

  it('lets line breaks through in free text, which the subject collapses', () => {
    const payload = parsePayload(tasks.send_booking_confirmation, {
      user_id: 1,
      booking_data: { event_name: 'Two\nLines' },
    }) as { booking_data: { event_name: string } };
    expect(payload.booking_data.event_name).toBe('Two\nLines');
  });
});
