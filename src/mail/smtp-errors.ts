/**
 * The one table that sorts SMTP failures. Only a reply about this message or this recipient is the message's own
 * failure: a 5xx to RCPT TO or DATA is final (`rejected`), a 4xx there about the mailbox or the message (enhanced
 * status 4.1.x, 4.2.x, 4.5.x, 4.6.x, or none) is worth another attempt (`deferred`). Everything about the server,
 * our connection, our account or our sender would fail every message alike: an `outage` of the SMTP dependency,
 * which waits for the server or the operator instead of using up attempts or dead-lettering the queue. That is a
 * connection refused or timed out; 421 (the server closing the channel) and 454 anywhere; any reply to the greeting,
 * EHLO, STARTTLS, AUTH or MAIL FROM; and a 4xx whose enhanced status is about the mail system (4.3.x), the network
 * (4.4.x) or policy (4.7.x, which is how relays such as SES say "slow down"), or whose text says it throttles.
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
// RFC 3463 enhanced status codes: `4.<class>.<detail>`; the class says what the reply is about.
const ENHANCED_STATUS = /\b4\.(\d)\.\d{1,3}\b/;
// 3 mail system, 4 network and routing, 7 security or policy (throttling, reputation): not this message's fault.
const SERVER_SIDE_CLASSES = new Set(['3', '4', '7']);
const THROTTLING = /throttl|rate.?limit|too many|slow down|sending rate/i;

export function classifySmtpError(error: unknown): SmtpFailureKind {
  const failure = (error ?? {}) as SmtpFailure;
  const reply = failure.responseCode;
  if (typeof reply !== 'number') {
    return failure.code && UNSENDABLE_CODES.has(failure.code) && !failure.command?.startsWith('CONN')
      ? 'rejected'
      : 'outage';
  }
  if (reply === 421 || reply === 454 || !MESSAGE_COMMANDS.test(failure.command ?? '')) return 'outage';
  if (reply >= 500) return 'rejected';
  const text = failure.response ?? failure.message ?? '';
  const enhanced = ENHANCED_STATUS.exec(text)?.[1];
  if (enhanced !== undefined) return SERVER_SIDE_CLASSES.has(enhanced) ? 'outage' : 'deferred';
  return THROTTLING.test(text) ? 'outage' : 'deferred';
}

const THROTTLING_REPLIES = new Set([421, 450, 451, 454]);

/** The relay asks us to slow down: a 421, 450, 451 or 454 whose text says it throttles. */
export function isThrottling(error: unknown): boolean {
  const failure = (error ?? {}) as SmtpFailure;
  const reply = failure.responseCode;
  if (typeof reply !== 'number' || !THROTTLING_REPLIES.has(reply)) return false;
  return THROTTLING.test(failure.response ?? failure.message ?? '');
}

// 5.1.x is about an address; 5.1.7 and 5.1.8 are about the sender's.
const RECIPIENT_STATUS = /\b5\.1\.(?!7\b|8\b)\d{1,3}\b/;
// Security or policy (5.7.x): a refusal of us (relaying denied, our reputation, SPF/DMARC), never of the address.
const POLICY_STATUS = /\b5\.7\.\d{1,3}\b/;

/**
 * A permanent refusal of the recipient's address — 5xx at RCPT TO, or an enhanced status 5.1.x at any message
 * command — which puts the address on the suppression list. Anything about our side never does: a refusal at
 * the greeting, EHLO, STARTTLS, AUTH (535) or MAIL FROM, a TLS failure, or a policy rejection (5.7.x).
 */
export function isRecipientRefusal(error: unknown): boolean {
  const failure = (error ?? {}) as SmtpFailure;
  const reply = failure.responseCode;
  if (typeof reply !== 'number' || reply < 500 || reply >= 600) return false;
  const command = failure.command ?? '';
  if (!MESSAGE_COMMANDS.test(command)) return false;
  const text = failure.response ?? failure.message ?? '';
  if (POLICY_STATUS.test(text)) return false;
  return /^RCPT TO\b/i.test(command) || RECIPIENT_STATUS.test(text);
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
  if (kind === 'rejected')
    return new SmtpRejectedError(message, { cause: error, recipientRefused: isRecipientRefusal(error) });
  return new SmtpUnavailableError(message, {
    cause: error,
    mayHaveBeenSent: dataStarted && typeof failure.responseCode !== 'number',
    dependency: kind === 'outage' ? 'smtp' : undefined,
  });
}
