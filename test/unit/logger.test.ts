import { Writable } from 'node:stream';
import { describe, it, expect } from 'vitest';
import { createLogger, maskEmail, maskSecrets } from '../../src/logger.js';

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
