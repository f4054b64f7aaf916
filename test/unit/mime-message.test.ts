/**
 * The one-pass message writer (src/mail/mime-message.ts), read back by mailparser, the parser the integration
 * tests use for what the SMTP sink receives; its quoted-printable checked against libqp's decoder.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decode } from 'libqp';
import { simpleParser } from 'mailparser';
import {
  encodeQuotedPrintable,
  isPlainAddress,
  isSevenBit,
  mimeWriter,
  type MimeMessage,
  type Sender,
} from '../../src/mail/mime-message.js';

const message = ({
  from = { address: 'tickets@mail.example.org', name: 'Example Tickets' },
  replyTo = { address: 'help@example.org', name: 'Example Tickets' },
  ...overrides
}: Partial<MimeMessage & Sender> = {}) =>
  mimeWriter({ from, replyTo })({
    to: { address: 'ada@example.com', name: 'Ada Lovelace' },
    subject: 'Your booking is confirmed',
    text: 'Hello Ada,\nyour booking is confirmed.\n',
    html: '<html><body><p style="color:#333">Hello Ada</p></body></html>',
    messageId: '<abc@mail.example.org>',
    boundary: 'f00dcafe1',
    date: new Date('2026-12-02T10:00:00Z'),
    ...overrides,
  });

describe('encodeQuotedPrintable', () => {
  it('decodes back to the same text, CRLF for every line break, in lines of at most 76 printable characters', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string({ unit: 'grapheme', maxLength: 200 }),
            fc.constantFrom(' ', '\t', '\n', '\r\n', '=', '.', 'é', '€', '😀', 'x'.repeat(80)),
          ),
          { maxLength: 40 },
        ),
        (pieces) => {
          const text = pieces.join('');
          const encoded = encodeQuotedPrintable(text);
          expect(encoded).toMatch(/^[\x20-\x7e\r\n\t]*$/);
          for (const line of encoded.split('\r\n')) {
            expect(line.length).toBeLessThanOrEqual(76);
            expect(line).not.toMatch(/[ \t]$/);
          }
          expect(encoded.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
          expect(decode(encoded).toString('utf8')).toBe(text.replace(/\r\n|\r|\n/g, '\r\n'));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('encodes = and a space before a line break, and never splits an escape across lines', () => {
    expect(encodeQuotedPrintable('a=b \nc')).toBe('a=3Db=20\r\nc');
    const encoded = encodeQuotedPrintable(`${'x'.repeat(74)}é`);
    expect(encoded).toBe(`${'x'.repeat(74)}=\r\n=C3=A9`);
  });
});

describe('the transfer encoding of a part', () => {
  const encodingOf = (raw: string, type: string) =>
    new RegExp(`Content-Type: ${type}; charset=utf-8\\r\\nContent-Transfer-Encoding: ([\\w-]+)`).exec(
      raw,
    )?.[1];

  it('is 7bit for plain ASCII in short lines, quoted-printable for anything else, and reads back the same', async () => {
    const long = `<p>${'x'.repeat(1_000)}</p>`;
    const raw = message({ text: 'Hello\r\nthere = 1\n', html: long });
    expect(encodingOf(raw, 'text/plain')).toBe('7bit');
    expect(encodingOf(raw, 'text/html')).toBe('quoted-printable');
    const mail = await simpleParser(raw);
    expect(mail.text).toBe('Hello\nthere = 1\n');
    expect(mail.html).toBe(long);
    expect(encodingOf(message({ text: 'Grüße' }), 'text/plain')).toBe('quoted-printable');
  });

  it('takes lines of up to 998 octets and no control character but tab, CR and LF', () => {
    expect(isSevenBit(`${'a'.repeat(998)}\r\n${'b'.repeat(998)}\n${'c'.repeat(998)}`)).toBe(true);
    expect(isSevenBit(`${'a'.repeat(999)}\r\nb`)).toBe(false);
    expect(isSevenBit(`a\n${'b'.repeat(999)}`)).toBe(false);
    expect(isSevenBit('tab\tand\rCR')).toBe(true);
    expect(isSevenBit('bell\u0007')).toBe(false);
    expect(isSevenBit('del\u007f')).toBe(false);
    expect(isSevenBit('')).toBe(true);
  });
});

describe('mimeWriter', () => {
  it('reads back as the message it was given: addresses, subject, both alternatives, the fields', async () => {
    const mail = await simpleParser(
      message({
        headers: {
          'List-Unsubscribe': '<https://example.org/u/1>',
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        },
      }),
    );
    expect(mail.from?.value).toEqual([{ address: 'tickets@mail.example.org', name: 'Example Tickets' }]);
    expect(mail.replyTo?.value).toEqual([{ address: 'help@example.org', name: 'Example Tickets' }]);
    expect(mail.to && 'value' in mail.to && mail.to.value).toEqual([
      { address: 'ada@example.com', name: 'Ada Lovelace' },
    ]);
    expect(mail.subject).toBe('Your booking is confirmed');
    expect(mail.messageId).toBe('<abc@mail.example.org>');
    expect(mail.date?.toISOString()).toBe('2026-12-02T10:00:00.000Z');
    expect(mail.headers.get('content-type')).toMatchObject({ value: 'multipart/alternative' });
    expect(mail.text).toBe('Hello Ada,\nyour booking is confirmed.\n');
    expect(mail.html).toBe('<html><body><p style="color:#333">Hello Ada</p></body></html>');
    const line = (key: string) => mail.headerLines.find((h) => h.key === key)?.line;
    expect(line('list-unsubscribe')).toBe('List-Unsubscribe: <https://example.org/u/1>');
    expect(line('list-unsubscribe-post')).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
  });

  it('encodes non-ASCII names and subjects, quotes names with specials, and folds long subjects', async () => {
    const subject = `Ihr Bestätigungscode für Event Platform — ${'sehr '.repeat(20)}lang`;
    const mail = await simpleParser(
      message({
        from: { address: 'tickets@mail.example.org', name: 'Tickets, "Events" & Co' },
        to: { address: 'zoe@example.com', name: 'Zoë Ünïcode' },
        subject,
        text: 'Grüße',
        html: '<p>Grüße — 😀</p>',
      }),
    );
    expect(mail.from?.value[0]?.name).toBe('Tickets, "Events" & Co');
    expect(mail.to && 'value' in mail.to && mail.to.value[0]?.name).toBe('Zoë Ünïcode');
    expect(mail.subject).toBe(subject);
    expect(mail.text).toBe('Grüße');
    expect(mail.html).toBe('<p>Grüße — 😀</p>');
  });

  it('lets no line break in a name, subject or field value start a header of its own', async () => {
    const raw = message({
      to: { address: 'ada@example.com', name: 'Ada\r\nBcc: victim@example.com' },
      subject: 'Hi\r\nBcc: victim@example.com',
      headers: { 'List-Unsubscribe': '<https://x>\r\nBcc: victim@example.com', 'Bad Name': 'x' },
    });
    expect(raw.split('\r\n\r\n')[0]).not.toMatch(/^Bcc:/im);
    expect(raw).not.toMatch(/^Bad Name:/m);
    const mail = await simpleParser(raw);
    expect(mail.bcc).toBeUndefined();
    expect(mail.subject).toBe('Hi\r\nBcc: victim@example.com');
  });

  it('reads back the look-alike of an encoded word as the text it is, in a name and in the subject', async () => {
    const name = '=?utf-8?B?RXZpbCA8ZXZpbEBhdHRhY2tlci50ZXN0Pg==?=';
    const quoted = 'A, "=?utf-8?Q?Mallory?=" <m@x.test>';
    const subject = 'Booking cancelled: =?utf-8?Q?Fake=0D=0ABcc:_x@y?= real';
    const mail = await simpleParser(
      message({
        to: { address: 'ada@example.com', name },
        replyTo: { address: 'help@example.org', name: quoted },
        subject,
      }),
    );
    expect(mail.to && 'value' in mail.to && mail.to.value).toEqual([{ address: 'ada@example.com', name }]);
    expect(mail.replyTo?.value).toEqual([{ address: 'help@example.org', name: quoted }]);
    expect(mail.subject).toBe(subject);
  });

  it('takes only plain ASCII addresses', () => {
    expect(isPlainAddress('jane.doe+tag@mail.example.co.uk')).toBe(true);
    expect(isPlainAddress('ünïcode@exämple.com')).toBe(false);
    expect(isPlainAddress('"quoted local"@example.com')).toBe(false);
    expect(isPlainAddress('a@[127.0.0.1]')).toBe(false);
    expect(isPlainAddress('a@b@example.com')).toBe(false);
  });
});
