/**
 * The one table that sorts SMTP failures. Only a reply about this message or this recipient is the message's own
 * failure: a 5xx to RCPT TO or DATA is final (`rejected`), a 4xx there is worth another attempt (`deferred`).
 * Everything about the server, our connection, our account or our sender — connection refused or timed out,
 * 421 (the server closing the channel), any reply to the greeting, EHLO, STARTTLS, AUTH or MAIL FROM — would fail
 * every message alike: an `outage` of the SMTP dependency, which waits for the server or the operator instead of
 * using up attempts or dead-lettering the queue.
 */
import { SmtpRejectedError, SmtpUnavailableError } from '../errors.js';

export type SmtpFailureKind = 'rejected' | 'deferred' | 'outage';

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  command?: string;
  response?: string;
  message?: string;
}

// nodemailer's own "this message cannot be sent as addressed", with no reply from a server.
const UNSENDABLE_CODES = new Set(['EENVELOPE', 'EMESSAGE']);
const MESSAGE_COMMANDS = /^(RCPT TO|DATA|BDAT)\b/i;

export function classifySmtpError(error: unknown): SmtpFailureKind {
  const failure = (error ?? {}) as SmtpFailure;
  const reply = failure.responseCode;
  if (typeof reply !== 'number') {
    return failure.code && UNSENDABLE_CODES.has(failure.code) && !failure.command?.startsWith('CONN')
      ? 'rejected'
      : 'outage';
  }
  if (reply === 421 || !MESSAGE_COMMANDS.test(failure.command ?? '')) return 'outage';
  return reply >= 500 ? 'rejected' : 'deferred';
}

/**
 * Wraps a nodemailer failure in the service's error classes, keeping the server's reply in the message.
 * `dataStarted`: the message had begun to go out (after the server's 354), so a failure without a reply leaves
 * open whether the server accepted it.
 */
export function toSmtpError(error: unknown, dataStarted = false): SmtpRejectedError | SmtpUnavailableError {
  const failure = (error ?? {}) as SmtpFailure;
  const detail = failure.response ?? failure.message ?? String(error);
  const where = failure.command ? ` at ${failure.command}` : '';
  const message = `SMTP ${failure.responseCode ?? failure.code ?? 'error'}${where}: ${detail}`;
  const kind = classifySmtpError(error);
  if (kind === 'rejected') return new SmtpRejectedError(message, { cause: error });
  return new SmtpUnavailableError(message, {
    cause: error,
    mayHaveBeenSent: dataStarted && typeof failure.responseCode !== 'number',
    dependency: kind === 'outage' ? 'smtp' : undefined,
  });
}
