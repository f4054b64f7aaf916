import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { UndecryptablePayloadError } from '../../src/errors.js';
import { decryptPayload, encryptPayload, encryptionKey, isEncrypted } from '@email-workers/client/internal';

const key = () => randomBytes(32).toString('base64');
const OTP = 'send_otp_verification_email';

describe('encrypted payload fields', () => {
  const [first, second] = [key(), key()];
  const encryption = loadConfig({ PAYLOAD_ENCRYPTION_KEY: `${first},${second}` }).encryption;

  it('encrypts the OTP code by default into a v1 marker and decrypts it back, numbers kept as numbers', () => {
    const sealed = encryptPayload(OTP, { email: 'a@example.com', otp: 482913 }, encryption) as Record<
      string,
      unknown
    >;
    expect(sealed.email).toBe('a@example.com');
    expect(isEncrypted(sealed.otp)).toBe(true);
    expect((sealed.otp as { $enc: string }).$enc).toMatch(/^v1:[0-9a-f]{8}:[\w-]+:[\w-]+:[\w-]+$/);
    expect(JSON.stringify(sealed)).not.toContain('482913');
    expect(decryptPayload(OTP, sealed, encryption.keys)).toEqual({ email: 'a@example.com', otp: 482913 });
  });

  it('decrypts with any key of the list after a rotation, the new first key encrypting', () => {
    const sealedByOld = encryptPayload(OTP, { otp: '1234' }, encryption);
    const rotated = loadConfig({ PAYLOAD_ENCRYPTION_KEY: `${key()},${first}` }).encryption;
    expect(decryptPayload(OTP, sealedByOld, rotated.keys)).toEqual({ otp: '1234' });
  });

  it('refuses a code moved to another task, an unknown key and a missing key, with the reason', () => {
    const sealed = encryptPayload(OTP, { otp: '1234' }, encryption);
    expect(() => decryptPayload('send_welcome_email', sealed, encryption.keys)).toThrow(
      /altered or another task/,
    );
    expect(() => decryptPayload(OTP, sealed, [encryptionKey(key())!])).toThrow(
      /encrypted with key [0-9a-f]{8}, which is not in PAYLOAD_ENCRYPTION_KEY/,
    );
    expect(() => decryptPayload(OTP, sealed, [])).toThrow(UndecryptablePayloadError);
    expect(() => decryptPayload(OTP, { otp: { $enc: 'v9:x' } }, encryption.keys)).toThrow(
      /not a v1 ciphertext/,
    );
  });

  it('leaves payloads alone with no key, and clear-text fields alone when decrypting', () => {
    const off = loadConfig({}).encryption;
    expect(encryptPayload(OTP, { otp: '1234' }, off)).toEqual({ otp: '1234' });
    expect(decryptPayload(OTP, { otp: '1234' }, encryption.keys)).toEqual({ otp: '1234' });
  });

  it('encrypts the fields ENCRYPTED_FIELDS names', () => {
    const custom = loadConfig({
      PAYLOAD_ENCRYPTION_KEY: first,
      ENCRYPTED_FIELDS: 'send_welcome_email=email+user_data',
    }).encryption;
    const sealed = encryptPayload(
      'send_welcome_email',
      { email: 'a@example.com', user_data: { n: 1 } },
      custom,
    );
    expect(JSON.stringify(sealed)).not.toContain('a@example.com');
    expect(encryptPayload(OTP, { otp: '1234' }, custom)).toEqual({ otp: '1234' });
  });

  it('reports a key that is not 32 bytes of base64, and malformed field lists', () => {
    expect(() =>
      loadConfig({ PAYLOAD_ENCRYPTION_KEY: `${first},c2hvcnQ=`, ENCRYPTED_FIELDS: 'otp' }),
    ).toThrow(
      /PAYLOAD_ENCRYPTION_KEY: expected 32-byte keys in base64[\s\S]*ENCRYPTED_FIELDS: expected task=field pairs/,
    );
  });
});
