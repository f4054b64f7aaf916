import { Writable } from 'node:stream';
import { describe, it, expect } from 'vitest';
import { createLogger, deliveryRef, keyRef, maskEmail, maskEmailsIn, maskSecrets } from '../../src/logger.js';
import { messageIdFor } from '../../src/mail/transport.js';
import { decodedForms } from '../helpers/decoded-forms.js';

/** A logger at level info whose lines land, parsed, in `lines`. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

describe('maskEmail', () => {
  it('keeps the first letter and the domain', () => {
    expect(maskEmail('jane.doe@example.com')).toBe('j***@example.com');
  });

  it('returns undefined for no address', () => {
    expect(maskEmail(undefined)).toBeUndefined();
  });

  it('hides all of a value that is not an address', () => {
    expect(maskEmail('jane.doe')).toBe('***');
  });
});

describe('maskEmailsIn', () => {
  it.each([
    [
      'a raw address in an SMTP reply',
      '550 <jane@example.com>: no such user',
      '550 <j***@example.com>: no such user',
    ],
    [
      'a key percent-encoded once in a job id',
      'send_booking_confirmation~booking%3Aada%40example.com',
      'send_booking_confirmation~booking%3Aa***%40example.com',
    ],
    ['a key percent-encoded twice', 'booking%253Aada%2540example.com', 'booking%253***%2540example.com'],
    ['a key percent-encoded three times', 'ada%252540example.com', 'a***%252540example.com'],
    ['a decimal HTML entity', 'ada&#64;example.com', 'a***&#64;example.com'],
    ['a hex HTML entity in upper case', 'ada&#X40;example.com', 'a***&#X40;example.com'],
    ['a named HTML entity', 'ada&commat;example.com', 'a***&commat;example.com'],
    ['a named HTML entity in upper case', 'ada&COMMAT;example.com', 'a***&COMMAT;example.com'],
    ['an entity escaped again', 'ada&amp;#64;example.com', 'a***&amp;#64;example.com'],
    ['a form-encoded key (+ for space)', 'booking%3A+Ada%40Example.COM', 'booking%3A+***%40Example.COM'],
    ['a JSON escape', 'ada\\u0040example.com', 'a***\\u0040example.com'],
    ['a fullwidth at sign', 'ada＠example.com', 'a***＠example.com'],
    ['a plus-addressed mailbox', 'jane.doe+tag@example.com', 'j***@example.com'],
    [
      'two addresses in one list',
      'ada%40example.com%2Cbob%40example.com',
      'a***%40example.com%2Cb***%40example.com',
    ],
    ['a quote encoded in the local part', 'o%27brien%40example.com', 'o%27b***%40example.com'],
    ['an address hidden behind another at sign', 'a@b@example.com', 'a***@example.com'],
  ])('masks %s', (_what, text, masked) => {
    expect(maskEmailsIn(text)).toBe(masked);
    expect(decodedForms(maskEmailsIn(text)).join(' ')).not.toMatch(/[a-z]{2,}@example\.com/i);
  });

  it('leaves a text without an address as it was', () => {
    const text = 'retry in 40 ms: 100% of 3 attempts & more (key #3fa2c1d9)';
    expect(maskEmailsIn(text)).toBe(text);
  });
});

describe('keyRef and deliveryRef', () => {
  const key = 'send_booking_confirmation~booking%3Aada%40example.com';

  it('names a key by 8 hex digits, the first 8 of its Message-ID', () => {
    expect(keyRef(key)).toMatch(/^#[0-9a-f]{8}$/);
    expect(messageIdFor(key, 'no-reply@example.com').slice(1, 9)).toBe(keyRef(key).slice(1));
    expect(keyRef(`${key}x`)).not.toBe(keyRef(key));
  });

  it('names a delivery by its key reference and its job id, addresses masked', () => {
    expect(deliveryRef(key, key)).toBe(
      `key ${keyRef(key)}, job send_booking_confirmation~booking%3Aa***%40example.com`,
    );
    expect(deliveryRef('send_welcome_email~auto:bull/auth_emails/17/1', '17')).toMatch(
      /^key #[0-9a-f]{8}, job 17$/,
    );
  });
});

describe('createLogger', () => {
  it('writes JSON lines to the destination', () => {
    const { logger, lines } = capturingLogger();
    logger.info({ jobId: '7' }, 'sent');
    expect(lines).toEqual([expect.objectContaining({ jobId: '7', msg: 'sent' })]);
  });

  it.each(['password', 'otp', 'data', 'payload'])('redacts a %s field', (field) => {
    const { logger, lines } = capturingLogger();
    logger.info({ [field]: 'secret-123456' }, 'oops');
    expect(lines[0]?.[field]).toBe('[redacted]');
  });

  it.each(['password', 'otp', 'data', 'payload'])('redacts a %s field nested one level', (field) => {
    const { logger, lines } = capturingLogger();
    logger.info({ job: { [field]: 'secret-123456' } }, 'oops');
    expect(lines[0]?.job).toEqual({ [field]: '[redacted]' });
  });

  it('redacts an object-valued payload whole', () => {
    const { logger, lines } = capturingLogger();
    logger.info({ payload: { email: 'ada@example.com', otp: '123456' } }, 'oops');
    expect(JSON.stringify(lines)).not.toContain('ada@example.com');
  });

  it('keeps other fields', () => {
    const { logger, lines } = capturingLogger();
    logger.info({ task: 'send_welcome_email', password: 'hunter2' }, 'oops');
    expect(lines[0]).toMatchObject({ task: 'send_welcome_email' });
  });
});

describe('maskSecrets', () => {
  it('masks OTP codes and passwords by key, keeping the rest', () => {
    expect(
      maskSecrets({ email: 'a@example.com', otp: 482913, user: { password: 'pw', name: 'Ada' } }),
    ).toEqual({
      email: 'a@example.com',
      otp: '***',
      user: { password: '***', name: 'Ada' },
    });
  });

  it('masks them inside JSON text and Python reprs', () => {
    expect(maskSecrets('{"email": "a@example.com", "otp": "482913"}')).toBe(
      '{"email": "a@example.com", "otp": "***"}',
    );
    expect(maskSecrets("[{'otp': '482913', 'email': 'a@example.com'}]")).toBe(
      "[{'otp': '***', 'email': 'a@example.com'}]",
    );
  });
});
