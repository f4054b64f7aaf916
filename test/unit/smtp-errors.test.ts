/**
 * The SMTP failure table: a reply about this message or recipient is the message's own failure (`rejected` for
 * good, `deferred` for another attempt); anything about the server, our connection, account or sender is an
 * `outage` of the SMTP dependency, which never uses up an email's attempts.
 */
import { describe, it, expect } from 'vitest';
import { PermanentError, SmtpRejectedError, SmtpUnavailableError, TransientError } from '../../src/errors.js';
import {
  classifySmtpError,
  isRecipientRefusal,
  isThrottling,
  toSmtpError,
} from '../../src/mail/smtp-errors.js';

/** An error shaped like nodemailer's: `code`, `responseCode`, `command`, `response`. */
function smtpFailure(fields: { code?: string; responseCode?: number; command?: string; response?: string }) {
  return Object.assign(new Error(fields.response ?? 'failed'), fields);
}

describe('classifySmtpError', () => {
  it.each([450, 451, 452])('defers a %d reply to RCPT TO: one recipient, another attempt', (responseCode) => {
    const error = smtpFailure({ code: 'EENVELOPE', responseCode, command: 'RCPT TO' });
    expect(classifySmtpError(error)).toBe('deferred');
  });

  it('defers a 451 reply to DATA: this message, another attempt', () => {
    const error = smtpFailure({ code: 'EMESSAGE', responseCode: 451, command: 'DATA' });
    expect(classifySmtpError(error)).toBe('deferred');
  });

  it.each(['RCPT TO', 'DATA', 'MAIL FROM', 'CONN'])(
    'counts a 421 at %s as an outage: the server closes the channel',
    (command) => {
      const error = smtpFailure({ code: 'EENVELOPE', responseCode: 421, command });
      expect(classifySmtpError(error)).toBe('outage');
    },
  );

  it.each([
    ['454 4.7.0 Throttled', 'DATA'],
    ['451 4.3.0 Local error in processing', 'DATA'],
    ['450 4.4.2 Timeout while reading', 'RCPT TO'],
    ['454 Throttling failure: Maximum sending rate exceeded', 'DATA'],
    ['450 Too many messages, slow down', 'RCPT TO'],
  ])('counts "%s" at %s as an outage: the server or our account, every email alike', (response, command) => {
    const error = smtpFailure({
      code: 'EMESSAGE',
      responseCode: Number(response.slice(0, 3)),
      command,
      response,
    });
    expect(classifySmtpError(error)).toBe('outage');
  });

  it.each([
    ['450 4.2.1 Mailbox busy', 'RCPT TO'],
    ['452 4.2.2 Mailbox full', 'RCPT TO'],
    ['451 4.5.0 Message problem, try again', 'DATA'],
    ['450 Requested mail action not taken: mailbox unavailable', 'RCPT TO'],
  ])('defers "%s" at %s: this recipient or message', (response, command) => {
    const error = smtpFailure({
      code: 'EENVELOPE',
      responseCode: Number(response.slice(0, 3)),
      command,
      response,
    });
    expect(classifySmtpError(error)).toBe('deferred');
  });

  it.each([550, 551, 552, 553, 554])('rejects a %d reply to RCPT TO for good', (responseCode) => {
    const error = smtpFailure({ code: 'EENVELOPE', responseCode, command: 'RCPT TO' });
    expect(classifySmtpError(error)).toBe('rejected');
  });

  it('rejects a 554 reply to DATA, which refuses this message', () => {
    const error = smtpFailure({ code: 'EMESSAGE', responseCode: 554, command: 'DATA' });
    expect(classifySmtpError(error)).toBe('rejected');
  });

  it.each([530, 534, 535, 538])(
    'counts a %d authentication reply as an outage: our account, not this message',
    (responseCode) => {
      const error = smtpFailure({ code: 'EAUTH', responseCode, command: 'AUTH PLAIN' });
      expect(classifySmtpError(error)).toBe('outage');
    },
  );

  it.each([451, 550, 553, 554])(
    'counts a %d reply to MAIL FROM as an outage: it is about the sender',
    (responseCode) => {
      const error = smtpFailure({ code: 'EENVELOPE', responseCode, command: 'MAIL FROM' });
      expect(classifySmtpError(error)).toBe('outage');
    },
  );

  it('counts a 554 greeting as an outage: it refuses the connection rather than this message', () => {
    const error = smtpFailure({
      code: 'EPROTOCOL',
      responseCode: 554,
      command: 'CONN',
      response: '554 5.7.1 Go away',
    });
    expect(classifySmtpError(error)).toBe('outage');
  });

  it('counts a 5xx reply to STARTTLS as an outage', () => {
    expect(classifySmtpError(smtpFailure({ code: 'ETLS', responseCode: 554, command: 'STARTTLS' }))).toBe(
      'outage',
    );
  });

  it.each(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'EABORT'])(
    'counts a %s connection failure as an outage',
    (code) => {
      expect(classifySmtpError(smtpFailure({ code, command: 'CONN' }))).toBe('outage');
    },
  );

  it('rejects EENVELOPE without a reply (no valid recipient) for good', () => {
    expect(classifySmtpError(smtpFailure({ code: 'EENVELOPE', command: 'API' }))).toBe('rejected');
  });

  it('counts an error it does not know, or a thrown non-error, as an outage', () => {
    expect(classifySmtpError(new Error('something odd'))).toBe('outage');
    expect(classifySmtpError(undefined)).toBe('outage');
  });
});

describe('toSmtpError', () => {
  const rejected = smtpFailure({
    code: 'EENVELOPE',
    responseCode: 550,
    command: 'RCPT TO',
    response: '550 5.1.1 <ada@example.com>: Recipient address rejected: User unknown',
  });
  const refused = smtpFailure({ code: 'ECONNECTION', command: 'CONN' });
  const deferred = smtpFailure({ code: 'EENVELOPE', responseCode: 450, command: 'RCPT TO' });

  it('keeps the server reply and the command it answered in the message, and the original as the cause', () => {
    const error = toSmtpError(rejected);
    expect(error.message).toContain('550 5.1.1 <ada@example.com>: Recipient address rejected');
    expect(error.message).toContain('RCPT TO');
    expect(error.cause).toBe(rejected);
  });

  it('turns a rejection into an SmtpRejectedError, a PermanentError', () => {
    const error = toSmtpError(rejected);
    expect(error).toBeInstanceOf(SmtpRejectedError);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.code).toBe('SMTP_REJECTED');
  });

  it('turns an outage into an SmtpUnavailableError of the smtp dependency', () => {
    const error = toSmtpError(refused) as SmtpUnavailableError;
    expect(error).toBeInstanceOf(TransientError);
    expect(error.code).toBe('SMTP_UNAVAILABLE');
    expect(error.dependency).toBe('smtp');
  });

  it('turns a deferral into an SmtpUnavailableError of no dependency: it is this message’s', () => {
    const error = toSmtpError(deferred) as SmtpUnavailableError;
    expect(error).toBeInstanceOf(SmtpUnavailableError);
    expect(error.dependency).toBeUndefined();
  });

  it('says the message may have been sent only when DATA had begun and no reply came', () => {
    const quiet = smtpFailure({ code: 'ETIMEDOUT', command: 'CONN', response: 'Timeout' });
    expect((toSmtpError(quiet, true) as SmtpUnavailableError).mayHaveBeenSent).toBe(true);
    expect((toSmtpError(quiet, false) as SmtpUnavailableError).mayHaveBeenSent).toBe(false);
    const replied = smtpFailure({ code: 'EMESSAGE', responseCode: 451, command: 'DATA' });
    expect((toSmtpError(replied, true) as SmtpUnavailableError).mayHaveBeenSent).toBe(false);
  });
});

describe('isRecipientRefusal: what suppresses an address', () => {
  it.each([
    [
      'a 550 at RCPT TO',
      { code: 'EENVELOPE', responseCode: 550, command: 'RCPT TO', response: '550 No such user' },
    ],
    [
      'a 5.1.1 at DATA',
      { code: 'EMESSAGE', responseCode: 550, command: 'DATA', response: '550 5.1.1 Unknown user' },
    ],
    [
      'a 553 5.1.3 at RCPT TO',
      { responseCode: 553, command: 'RCPT TO', response: '553 5.1.3 Bad address syntax' },
    ],
  ])('counts %s as a bounce', (_what, fields) => {
    expect(isRecipientRefusal(smtpFailure(fields))).toBe(true);
    expect((toSmtpError(smtpFailure(fields)) as SmtpRejectedError).recipientRefused).toBe(true);
  });

  it.each([
    [
      'a 535 at AUTH',
      { code: 'EAUTH', responseCode: 535, command: 'AUTH PLAIN', response: '535 5.7.8 Bad login' },
    ],
    [
      'a 550 at MAIL FROM',
      { code: 'EENVELOPE', responseCode: 550, command: 'MAIL FROM', response: '550 Sender refused' },
    ],
    [
      'a policy 5.7.1 at RCPT TO',
      { responseCode: 550, command: 'RCPT TO', response: '550 5.7.1 Relaying denied' },
    ],
    [
      'a 5.1.8 about our sender',
      { responseCode: 553, command: 'DATA', response: '553 5.1.8 Bad sender domain' },
    ],
    [
      'a 554 at DATA without an address status',
      { responseCode: 554, command: 'DATA', response: '554 Message refused' },
    ],
    [
      'a TLS failure',
      { code: 'ETLS', command: 'STARTTLS', response: 'unable to verify the first certificate' },
    ],
    ['a 450 at RCPT TO', { responseCode: 450, command: 'RCPT TO', response: '450 Mailbox busy' }],
  ])('never counts %s as a bounce', (_what, fields) => {
    expect(isRecipientRefusal(smtpFailure(fields))).toBe(false);
  });
});

describe('isThrottling: what slows the whole service down', () => {
  it.each([
    [454, '454 4.7.0 Throttling failure: Maximum sending rate exceeded.'],
    [421, '421 4.7.0 Too many messages, slow down'],
    [451, '451 4.7.1 Sending rate limit exceeded'],
  ])('takes a %d saying so as throttling', (responseCode, response) => {
    expect(isThrottling(smtpFailure({ responseCode, command: 'DATA', response }))).toBe(true);
  });

  it.each([
    [421, '421 Service not available, closing channel'],
    [550, '550 Too many recipients'],
    [451, '451 Temporary local problem'],
  ])('does not take %d "%s" as throttling', (responseCode, response) => {
    expect(isThrottling(smtpFailure({ responseCode, command: 'DATA', response }))).toBe(false);
  });
});
