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
const MESSAGE_COMMANDS = /^(RCPT TO|DATA|BDAT)\b/i;

export function classifySmtpError(error: unknown): SmtpFailureKind {
  const failure = (error ?? {}) as SmtpFailure;
  const reply = failure.responseCode;
  // Without a reply code, only nodemailer's own "this message cannot be sent as addressed" is final.
  if (typeof reply !== 'number')
    return failure.code && PERMANENT_CODES.has(failure.code) ? 'permanent' : 'transient';
  // A 5xx is final only where it answers this message: its recipient (RCPT TO) or its content (DATA). A 5xx to
  // the greeting, STARTTLS, AUTH or MAIL FROM is about our connection, account or sender: every message would
  // fail alike, so they wait for the operator instead of dead-lettering the whole queue.
  if (
    typeof reply === 'number' &&
    reply >= 500 &&
    reply < 600 &&
    MESSAGE_COMMANDS.test(failure.command ?? '')
  ) {
    return 'permanent';
  }
  return 'transient';
}

/**
 * True when the failure leaves open whether the server accepted the message: the socket went quiet or broke
 * after the connection was up (nodemailer reports every such failure against `CONN`, whatever the phase, so
 * this cannot tell "during EHLO" from "after the final dot"). A refused or timed-out connect, a DNS or TLS
 * failure, and any reply with a code are certain: nothing was accepted.
 */
export function mayHaveBeenSent(error: unknown): boolean {
  const failure = (error ?? {}) as SmtpFailure;
  if (typeof failure.responseCode === 'number') return false;
  const message = failure.message ?? '';
  if (failure.code === 'ETIMEDOUT')
    return !/connection timeout|greeting never received|TLS handshake/i.test(message);
  if (failure.code === 'ECONNECTION') return /closed unexpectedly/i.test(message);
  if (failure.code === 'ESOCKET') return !/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND/.test(message);
  return false;
}

/** Wraps a nodemailer failure in the service's error classes, keeping the server's reply in the message. */
export function toSmtpError(error: unknown): SmtpRejectedError | SmtpUnavailableError {
  const failure = (error ?? {}) as SmtpFailure;
  const detail = failure.response ?? failure.message ?? String(error);
  const where = failure.command ? ` at ${failure.command}` : '';
  const message = `SMTP ${failure.responseCode ?? failure.code ?? 'error'}${where}: ${detail}`;
  return classifySmtpError(error) === 'permanent'
    ? new SmtpRejectedError(message, { cause: error })
    : new SmtpUnavailableError(message, { cause: error, mayHaveBeenSent: mayHaveBeenSent(error) });
}
