import { createHash } from 'node:crypto';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/** `jane.doe@example.com` → `j***@example.com`: enough to tell recipients apart in logs, not to harvest them. */
export function maskEmail(address: string | undefined | null): string | undefined {
  if (!address) return undefined;
  const at = address.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${address[0]}***${address.slice(at)}`;
}

// An address as it appears in text: raw, or inside an idempotency key or a URL after one or more rounds of
// percent-encoding, as an HTML entity, JSON- or JS-escaped, or with a fullwidth at sign; any case.
const AT = String.raw`(?:@|%(?:25)*40|%u0040|&(?:amp;)*(?:#0*64|#x0*40|commat);|\\u0040|\\x40|＠)`;
// Encoded delimiters (space, quotes, brackets, comma, colon, semicolon, line breaks) end a local part just as
// the raw ones do, so `booking%3Aada%40example.com` masks `ada`, not `booking%3Aada`.
const ENCODED_DELIMITER = String.raw`%(?:25)*(?:0A|0D|2[02789C]|3[ABCE]|5[BD])`;
const DELIMITER = String.raw`\s<>"',;:()[\]`;
const ADDRESS = new RegExp(
  // The lookbehind keeps a local part from starting inside a `%XX` escape.
  String.raw`(?<!%[0-9a-f]?)((?:(?!${ENCODED_DELIMITER})[^${DELIMITER}])+)(${AT})([^${DELIMITER}@%&\\＠]+)`,
  'giu',
);
/** Cheap test first: most texts hold no at sign in any form, and masking runs on every failure and job id. */
const MAY_HOLD_ADDRESS = new RegExp(String.raw`@|%(?:25)*40|%u0040|&|\\u0040|\\x40|＠`, 'i');

/**
 * Masks every address inside a text, e.g. an SMTP reply that quotes the recipient, or a job id made of an
 * idempotency key that holds one in any encoding (`booking%3Aada%40example.com` → `booking%3Aa***%40example.com`).
 */
export function maskEmailsIn(text: string): string {
  if (!MAY_HOLD_ADDRESS.test(text)) return text;
  return text.replace(ADDRESS, (_match, local: string, at: string, domain: string) => {
    return `${String.fromCodePoint(local.codePointAt(0)!)}***${at}${domain}`;
  });
}

/**
 * An idempotency key named without its text (a key may hold an address): `#3fa2c1d9`, the first 8 hex digits of
 * its SHA-256, which are also the first 8 of the email's Message-ID. Find the row with
 * `WHERE left(encode(sha256(convert_to(idempotency_key, 'UTF8')), 'hex'), 8) = '3fa2c1d9'`.
 */
export function keyRef(key: string): string {
  return `#${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

/** How failure reasons name an email: `key #3fa2c1d9, job 17`, addresses in the job id masked. */
export function deliveryRef(key: string, jobId: string): string {
  return `key ${keyRef(key)}, job ${maskEmailsIn(jobId)}`;
}

/** Who a job or message is for, fit for a log line: the masked address, or the user id. */
export function recipientHint(data: Record<string, unknown>): string | undefined {
  if (typeof data.email === 'string') return maskEmail(data.email);
  if (typeof data.user_id === 'string' || typeof data.user_id === 'number')
    return `user:${maskEmailsIn(String(data.user_id))}`;
  return undefined;
}

const SECRET_KEY = /^(otp|otp_code|password|passwd|secret|token|api_?key|authorization)$/i;
// A secret inside text: JSON (`"otp": "123"`) and Python reprs (`'otp': '123'`) alike.
const SECRET_IN_TEXT =
  /(['"]?\b(?:otp|otp_code|password|passwd|secret|token|api_?key)['"]?\s*[:=]\s*)(['"]?)[^'",}\s]*/gi;

/**
 * A copy of `value` with secrets (OTP codes, passwords, tokens) replaced by `***`, by key in objects and by
 * pattern in text. Addresses are kept: this is for stored messages (dead letters), which keep their payloads.
 */
export function maskSecrets(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(SECRET_IN_TEXT, '$1$2***');
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      SECRET_KEY.test(key) && inner !== null && typeof inner !== 'object' ? '***' : maskSecrets(inner),
    ]),
  );
}

// Belt and braces: the code never logs payloads or secrets, and these paths catch a mistake that tries.
const REDACT = [
  'password',
  '*.password',
  'otp',
  '*.otp',
  'data',
  '*.data',
  'payload',
  '*.payload',
  'privateKey',
  '*.privateKey',
  'auth',
  '*.auth',
  'authorization',
  '*.authorization',
];

export interface LoggerOptions {
  level: string;
  /** Pretty, coloured lines for a person at a terminal; JSON everywhere else. */
  pretty?: boolean;
  destination?: DestinationStream;
}

export function createLogger({ level, pretty = false, destination }: LoggerOptions): Logger {
  const options = {
    level,
    base: { service: 'email-workers' },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination) return pino(options, destination);
  if (pretty) {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' },
      },
    });
  }
  return pino(options);
}
