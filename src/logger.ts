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
