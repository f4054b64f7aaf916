/**
 * What the board, the pages and the API show of a job: OTP codes replaced, addresses masked as in the logs
 * (`a***@example.com`), people's names masked (`A*** L***`). Applied to every value that leaves the monitor,
 * so a board shown on a screen in a meeting leaks nothing.
 */
import { maskEmail, maskEmailsIn } from '../logger.js';
import { isEncrypted } from '@email-workers/client/internal';

export const REDACTED = '[redacted]';

/** Keys whose value is a secret: replaced whole, whatever its type. */
const SECRET_KEYS = new Set(['otp', 'otp_code', 'password']);
/** Keys whose value is an address. */
const ADDRESS_KEYS = new Set(['email', 'to', 'recipient', 'reply_to', 'cc', 'bcc']);
/** Keys whose value names a person. */
const NAME_KEYS = new Set(['full_name', 'username', 'first_name', 'last_name', 'user_name', 'to_name']);

/** `Ada Lovelace` → `A*** L***`. */
export function maskName(name: string): string {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => `${word[0]}***`)
    .join(' ');
}

/** A job's data or result: secrets replaced, addresses and names masked, other strings scanned for addresses. */
export function redactJobValue(value: unknown, key = ''): unknown {
  if (SECRET_KEYS.has(key.toLowerCase())) return value === undefined || value === null ? value : REDACTED;
  // An encrypted field (PAYLOAD_ENCRYPTION_KEY): neither the code nor its ciphertext is shown.
  if (isEncrypted(value)) return REDACTED;
  if (typeof value === 'string') {
    if (ADDRESS_KEYS.has(key)) return maskEmailsIn(value.includes('@') ? (maskEmail(value) ?? '') : value);
    if (NAME_KEYS.has(key)) return maskName(value);
    return maskEmailsIn(value);
  }
  if (Array.isArray(value)) return value.map((item) => redactJobValue(item, key));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactJobValue(v, k)]));
  }
  return value;
}

/**
 * Anything else a monitor shows (failed reasons, stack traces, job logs, options, whole API bodies): addresses
 * masked in every string, secret keys replaced. Names are left alone here: `name` is a queue's or a task's.
 */
export function redactDeep(value: unknown, key = ''): unknown {
  if (SECRET_KEYS.has(key.toLowerCase())) return value === undefined || value === null ? value : REDACTED;
  if (isEncrypted(value)) return REDACTED;
  // `email-worker@<host>` is the worker's name, not an address.
  if (key === 'processedBy') return value;
  if (typeof value === 'string') return maskEmailsIn(value);
  if (Array.isArray(value)) return value.map((item) => redactDeep(item));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) =>
        // A job's payload and result sit under these keys: the stricter rules apply there.
        k === 'data' || k === 'returnValue' || k === 'returnvalue'
          ? [k, redactJobValue(v)]
          : [k, redactDeep(v, k)],
      ),
    );
  }
  return value;
}
