/**
 * The one table that sorts SMTP failures into "retry later" and "give up now". Only failures about this message
 * or this recipient are permanent; anything about the connection, the server's state or our own credentials
 * is transient, since retrying after the operator or the server recovers delivers the email.
 */
import { SmtpRejectedError, SmtpUnavailableError } from '../errors.js';

export type SmtpFailureKind = 'transient' | 'permanent';

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  command?: string;
  response?: string;
  message?: string;
}

// nodemailer error codes that say nothing can be sent as addressed, whatever the server's state.
const PERMANENT_CODES = new Set(['EENVELOPE', 'EMESSAGE']);

export function classifySmtpError(error: unknown): SmtpFailureKind {
  const failure = (error ?? {}) as SmtpFailure;
  const reply = failure.responseCode;
  if (typeof reply === 'number' && reply >= 500 && reply < 600) {
    // 530/534/535 and a 5xx to MAIL FROM are about our account or sender: every message would fail alike,
    // so they wait for the operator instead of dead-lettering the whole queue.
    if (reply === 530 || reply === 534 || reply === 535 || failure.command === 'MAIL FROM')
      return 'transient';
    return 'permanent';
  }
  if (typeof reply === 'number' && reply >= 400) return 'transient';
  if (failure.code && PERMANENT_CODES.has(failure.code)) return 'permanent';
  return 'transient';
}

/** Wraps a nodemailer failure in the service's error classes, keeping the server's reply in the message. */
export function toSmtpError(error: unknown): SmtpRejectedError | SmtpUnavailableError {
  const failure = (error ?? {}) as SmtpFailure;
  const detail = failure.response ?? failure.message ?? String(error);
  const where = failure.command ? ` at ${failure.command}` : '';
  const message = `SMTP ${failure.responseCode ?? failure.code ?? 'error'}${where}: ${detail}`;
  return classifySmtpError(error) === 'permanent'
    ? new SmtpRejectedError(message, { cause: error })
    : new SmtpUnavailableError(message, { cause: error });
}
