import { describe, it, expect } from 'vitest';
import { PermanentError, SmtpRejectedError, SmtpUnavailableError, TransientError } from '../../src/errors.js';
import { classifySmtpError, mayHaveBeenSent, toSmtpError } from '../../src/mail/smtp-errors.js';

/** An error shaped like nodemailer's: `code`, `responseCode`, `command`, `response`. */
function smtpFailure(fields: { code?: string; responseCode?: number; command?: string; response?: string }) {
  return Object.assign(new Error(fields.response ?? 'failed'), fields);
}

describe('classifySmtpError', () => {
  it.each([421, 450, 451, 452])('retries a %d reply to RCPT TO', (responseCode) => {
    const error = smtpFailure({ code: 'EENVELOPE', responseCode, command: 'RCPT TO' });
    expect(classifySmtpError(error)).toBe('transient');
  });

  it.each([421, 451])('retries a %d reply to DATA', (responseCode) => {
    const error = smtpFailure({ code: 'EMESSAGE', responseCode, command: 'DATA' });
    expect(classifySmtpError(error)).toBe('transient');
  });

  it.each([550, 551, 552, 553, 554])('gives up on a %d reply to RCPT TO', (responseCode) => {
    const error = smtpFailure({ code: 'EENVELOPE', responseCode, command: 'RCPT TO' });
    expect(classifySmtpError(error)).toBe('permanent');
  });

  it('gives up on a 554 reply to DATA, which refuses this message', () => {
    const error = smtpFailure({ code: 'EMESSAGE', responseCode: 554, command: 'DATA' });
    expect(classifySmtpError(error)).toBe('permanent');
  });

  it('retries a 535 authentication failure, which is about our account, not this message', () => {
    const error = smtpFailure({ code: 'EAUTH', responseCode: 535, command: 'AUTH PLAIN' });
    expect(classifySmtpError(error)).toBe('transient');
  });

  it.each([530, 534])('retries a %d authentication reply', (responseCode) => {
    const error = smtpFailure({ code: 'EAUTH', responseCode, command: 'AUTH PLAIN' });
    expect(classifySmtpError(error)).toBe('transient');
  });

  it.each([550, 553, 554])('retries a %d reply to MAIL FROM, which is about the sender', (responseCode) => {
    const error = smtpFailure({ code: 'EENVELOPE', responseCode, command: 'MAIL FROM' });
    expect(classifySmtpError(error)).toBe('transient');
  });

  it.each(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS'])('retries a %s connection failure', (code) => {
    expect(classifySmtpError(smtpFailure({ code, command: 'CONN' }))).toBe('transient');
  });

  it('gives up on EENVELOPE without a reply (no valid recipient)', () => {
    expect(classifySmtpError(smtpFailure({ code: 'EENVELOPE', command: 'API' }))).toBe('permanent');
  });

  it('retries an error it does not know', () => {
    expect(classifySmtpError(new Error('something odd'))).toBe('transient');
  });

  it('retries a thrown value that is not an error', () => {
    expect(classifySmtpError(undefined)).toBe('transient');
  });

  // Replies before MAIL FROM concern the connection or our account: every message would fail alike.
  it('retries a 554 greeting, which refuses the connection rather than this message', () => {
    const error = smtpFailure({
      code: 'EPROTOCOL',
      responseCode: 554,
      command: 'CONN',
      response: '554 5.7.1 Go away',
    });
    expect(classifySmtpError(error)).toBe('transient');
  });

  it('retries a 5xx reply to STARTTLS', () => {
    const error = smtpFailure({ code: 'ETLS', responseCode: 554, command: 'STARTTLS' });
    expect(classifySmtpError(error)).toBe('transient');
  });

  it('retries any 5xx authentication failure, such as 538 (encryption required)', () => {
    const error = smtpFailure({ code: 'EAUTH', responseCode: 538, command: 'AUTH PLAIN' });
    expect(classifySmtpError(error)).toBe('transient');
  });
});

describe('toSmtpError', () => {
  const rejected = smtpFailure({
    code: 'EENVELOPE',
    responseCode: 550,
    command: 'RCPT TO',
    response: '550 5.1.1 <ada@example.com>: Recipient address rejected: User unknown',
  });
  const unavailable = smtpFailure({ code: 'ECONNECTION', command: 'CONN' });

  it('keeps the server reply in the message', () => {
    expect(toSmtpError(rejected).message).toContain(
      '550 5.1.1 <ada@example.com>: Recipient address rejected',
    );
  });

  it('names the command the server answered', () => {
    expect(toSmtpError(rejected).message).toContain('RCPT TO');
  });

  it('keeps the original error as the cause', () => {
    expect(toSmtpError(rejected).cause).toBe(rejected);
  });

  it('turns a permanent failure into an SmtpRejectedError, which is a PermanentError', () => {
    const error = toSmtpError(rejected);
    expect(error).toBeInstanceOf(SmtpRejectedError);
    expect(error).toBeInstanceOf(PermanentError);
  });

  it('turns a transient failure into an SmtpUnavailableError, which is a TransientError', () => {
    const error = toSmtpError(unavailable);
    expect(error).toBeInstanceOf(SmtpUnavailableError);
    expect(error).toBeInstanceOf(TransientError);
  });

  it('gives the two outcomes stable codes', () => {
    expect([toSmtpError(rejected).code, toSmtpError(unavailable).code]).toEqual([
      'SMTP_REJECTED',
      'SMTP_UNAVAILABLE',
    ]);
  });
});

describe('mayHaveBeenSent', () => {
  it('is false for anything with a reply code: the server answered, so we know', () => {
    expect(mayHaveBeenSent({ code: 'EENVELOPE', responseCode: 451, command: 'RCPT TO' })).toBe(false);
  });

  it('is false when no conversation began: refused connect, connect timeout, greeting timeout, DNS, TLS', () => {
    expect(mayHaveBeenSent({ code: 'ESOCKET', message: 'connect ECONNREFUSED 127.0.0.1:25' })).toBe(false);
    expect(mayHaveBeenSent({ code: 'ETIMEDOUT', message: 'Connection timeout' })).toBe(false);
    expect(mayHaveBeenSent({ code: 'ETIMEDOUT', message: 'Greeting never received' })).toBe(false);
    expect(mayHaveBeenSent({ code: 'EDNS', message: 'getaddrinfo ENOTFOUND smtp.example.com' })).toBe(false);
    expect(mayHaveBeenSent({ code: 'ECONNECTION', message: 'connect ECONNREFUSED' })).toBe(false);
  });

  it('is true when the connection went quiet or broke mid-conversation', () => {
    expect(mayHaveBeenSent({ code: 'ETIMEDOUT', message: 'Timeout' })).toBe(true);
    expect(mayHaveBeenSent({ code: 'ECONNECTION', message: 'Connection closed unexpectedly' })).toBe(true);
    expect(mayHaveBeenSent({ code: 'ESOCKET', message: 'read ECONNRESET' })).toBe(true);
  });

  it('is carried by the transient error toSmtpError builds', () => {
    const error = toSmtpError({ code: 'ETIMEDOUT', message: 'Timeout', command: 'CONN' });
    expect(error).toBeInstanceOf(SmtpUnavailableError);
    expect((error as SmtpUnavailableError).mayHaveBeenSent).toBe(true);
  });
});
