import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/** `jane.doe@example.com` → `j***@example.com`: enough to tell recipients apart in logs, not to harvest them. */
export function maskEmail(address: string | undefined | null): string | undefined {
  if (!address) return undefined;
  const at = address.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${address[0]}***${address.slice(at)}`;
}

const ADDRESS = /[^\s<>"',;:()[\]]+@[^\s<>"',;:()[\]]+/g;

/** Masks every address inside a text, e.g. an SMTP reply that quotes the recipient. */
export function maskEmailsIn(text: string): string {
  return text.replace(ADDRESS, (address) => maskEmail(address) ?? '');
}

/** Who a job or message is for, fit for a log line: the masked address, or the user id. */
export function recipientHint(data: Record<string, unknown>): string | undefined {
  if (typeof data.email === 'string') return maskEmail(data.email);
  if (typeof data.user_id === 'string' || typeof data.user_id === 'number') return `user:${data.user_id}`;
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
