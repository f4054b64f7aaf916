/**
 * The service's own messages, built in one pass. Every email here has the same shape: one sender, one recipient,
 * a subject, a text and an HTML alternative, a few header fields. nodemailer builds any message as a tree of MIME
 * nodes joined by streams and encodes each part through a chain of transforms: a quarter of a worker's CPU per
 * email in a profile (docs/BENCHMARKS.md). This writes the same message as a string and hands it to nodemailer as
 * `raw`, which still does the SMTP conversation, the dot-stuffing and the DKIM signature.
 *
 * Only plain ASCII addresses (a dot-atom at a host name) take this way; anything else (an internationalised
 * address, a quoted local part) goes through nodemailer's own composer, whose rules for those are long.
 */
import { encodeWord, encodeWords, foldLines } from 'nodemailer/lib/mime-funcs';

export interface Mailbox {
  address: string;
  name?: string | undefined;
}

export interface Sender {
  from: Mailbox;
  replyTo?: Mailbox | undefined;
}

export interface MimeMessage {
  to: Mailbox;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  /** Extra header fields (List-Unsubscribe); unstructured values. */
  headers?: Readonly<Record<string, string>> | undefined;
  /** Unique within the message and unguessable by whoever writes its content (see transport.ts). */
  boundary: string;
  date: Date;
}

const PLAIN_ADDRESS =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*$/;

/** True when the address can go into this builder's headers and the envelope exactly as written. */
export function isPlainAddress(address: string): boolean {
  return address.length <= 320 && PLAIN_ADDRESS.test(address);
}

/**
 * As nodemailer writes a display name: bare when it is words, quoted when ASCII, else an encoded word. And as an
 * encoded word when it holds `=?`: readers decode what looks like one even inside quotes, so a name written as
 * `=?utf-8?B?…?=` would show as whatever it encodes (another sender, another address).
 */
function displayName(name: string): string {
  if (/^[\w ]*$/.test(name)) return name;
  if (/^[\x20-\x7e]*$/.test(name) && !name.includes('=?')) return `"${name.replace(/["\\]/g, '\\$&')}"`;
  return encodeWord(name, 'Q', 52);
}

const mailbox = ({ address, name }: Mailbox) => (name ? `${displayName(name)} <${address}>` : address);

/**
 * An unstructured header value (Subject, List-Unsubscribe): control characters (a line break among them) can only
 * go as an encoded word, and so does a value holding `=?` (else a reader decodes the look-alike of an encoded word
 * a payload put there); non-ASCII words go as encoded words, the rest as it is.
 */
function unstructured(value: string): string {
  return hasControl(value) || value.includes('=?')
    ? encodeWord(value, 'Q', 52)
    : encodeWords(value, 'Q', 52, true);
}

/** Any control character but the tab (a fold point), or DEL. */
function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

const header = (key: string, value: string) => foldLines(`${key}: ${value}`, 76);

/** A header field name: printable ASCII without a colon (RFC 5322 ftext). */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/** Writes the sender's messages; its header fields, the same for every message, are written once here. */
export function mimeWriter(sender: Sender): (message: MimeMessage) => string {
  const senderFields = [
    header('From', mailbox(sender.from)),
    ...(sender.replyTo ? [header('Reply-To', mailbox(sender.replyTo))] : []),
  ];
  return (message) => write(senderFields, message);
}

function write(senderFields: readonly string[], message: MimeMessage): string {
  const boundary = `--_EW-${message.boundary}`;
  const lines = [
    ...senderFields,
    header('To', mailbox(message.to)),
    header('Subject', unstructured(message.subject)),
    `Message-ID: ${message.messageId}`,
    `Date: ${message.date.toUTCString().replace(/GMT/, '+0000')}`,
    'MIME-Version: 1.0',
  ];
  for (const [key, value] of Object.entries(message.headers ?? {})) {
    if (FIELD_NAME.test(key) && value.trim()) lines.push(header(key, unstructured(value)));
  }
  lines.push(
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    ...part(message.text),
    `--${boundary}`,
    'Content-Type: text/html; charset=utf-8',
    ...part(message.html),
    `--${boundary}--`,
    '',
  );
  return lines.join('\r\n');
}

/**
 * A part's encoding and body. Plain ASCII in lines no longer than a server must take (998, RFC 5321) goes as it is
 * (7bit: nothing to encode, and the most common case for our markup); anything else as quoted-printable.
 */
function part(content: string): [string, string, string] {
  if (isSevenBit(content)) {
    return ['Content-Transfer-Encoding: 7bit', '', content.replace(/\r\n|\r|\n/g, '\r\n')];
  }
  return ['Content-Transfer-Encoding: quoted-printable', '', encodeQuotedPrintable(content)];
}

/** 998 octets a line before its CRLF (a CR measured with its line: a lone one only ever splits a line in two). */
const MAX_7BIT_LINE = 998;
const NOT_7BIT = /[^\t\n\r\x20-\x7e]/;

/** Plain ASCII (tab, CR and LF the only controls) in lines of at most 998 octets: natively scanned, both. */
export function isSevenBit(content: string): boolean {
  if (NOT_7BIT.test(content)) return false;
  for (let start = 0; start <= content.length;) {
    const end = content.indexOf('\n', start);
    const length = (end === -1 ? content.length : end) - start;
    if (length > MAX_7BIT_LINE + (end > 0 && content.charCodeAt(end - 1) === 0x0d ? 1 : 0)) return false;
    if (end === -1) return true;
    start = end + 1;
  }
  return true;
}

const HEX = Buffer.from('0123456789ABCDEF');
const EQUALS = 0x3d;
const CR = 0x0d;
const LF = 0x0a;
/** At most 76 characters a line, the soft break's `=` included (RFC 2045 6.7). */
const MAX_LINE = 75;

/**
 * Quoted-printable (RFC 2045 6.7) in one pass over the UTF-8 bytes: printable ASCII as it is (but `=`), every other
 * byte as `=XX`, a space or tab before a line break encoded, line breaks as CRLF, lines broken softly at 76. Twice
 * as fast as nodemailer's own (`nodemailer/lib/qp`'s encode and wrap: 317 against 157 µs for a 13 KB non-ASCII
 * part), which was 7 % of a worker's profile.
 */
export function encodeQuotedPrintable(text: string): string {
  const input = Buffer.from(text, 'utf8');
  const length = input.length;
  // Each byte takes at most 3, and each soft break 3 more for at least 25 bytes.
  const output = Buffer.allocUnsafe(length * 3 + Math.ceil(length / 25) * 3 + 3);
  let o = 0;
  let line = 0;
  for (let i = 0; i < length; i++) {
    const byte = input[i]!;
    if (byte === CR || byte === LF) {
      if (byte === CR && input[i + 1] === LF) i++;
      output[o++] = CR;
      output[o++] = LF;
      line = 0;
      continue;
    }
    let literal = byte >= 0x21 && byte <= 0x7e && byte !== EQUALS;
    if (byte === 0x20 || byte === 0x09) {
      const next = input[i + 1];
      literal = next !== undefined && next !== CR && next !== LF;
    }
    const width = literal ? 1 : 3;
    if (line + width > MAX_LINE) {
      output[o++] = EQUALS;
      output[o++] = CR;
      output[o++] = LF;
      line = 0;
    }
    if (literal) {
      output[o++] = byte;
    } else {
      output[o++] = EQUALS;
      output[o++] = HEX[byte >> 4]!;
      output[o++] = HEX[byte & 15]!;
    }
    line += width;
  }
  return output.toString('latin1', 0, o);
}
