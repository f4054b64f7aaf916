/**
 * What goes over the wire: a DKIM signature for the configured domain and selector, the sender and Reply-To from
 * configuration, one Message-ID per job kept across retries, and a text and an HTML alternative.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ParsedMail } from 'mailparser';
import { deliver, recipientOf } from '../helpers/jobs.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startTestWorkers, type TestWorkers, smtpEnv } from '../helpers/workers.js';

let smtp: SmtpSink;
let w: TestWorkers;

beforeAll(async () => {
  smtp = await startSmtpSink();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  w = await startTestWorkers(
    'delivery',
    {
      ...smtpEnv(smtp),
      FROM_ADDRESS: 'tickets@mail.example.org',
      FROM_NAME: 'Example Tickets',
      REPLY_TO: 'help@example.org',
      DKIM_DOMAIN: 'mail.example.org',
      DKIM_SELECTOR: 'jan2026',
      DKIM_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    },
    { queues: ['auth_emails'] },
  );
});

afterAll(async () => {
  await w?.stop();
  await smtp?.close();
});

beforeEach(() => {
  smtp.reply = () => undefined;
});

const welcome = (email: string) => deliver(w, smtp, 'auth_emails', 'send_welcome_email', { email });

/** The raw header line, as signed; mailparser does not parse DKIM-Signature. */
const rawHeader = (mail: ParsedMail, key: string) => mail.headerLines.find((h) => h.key === key)?.line;

describe('a delivered message', () => {
  it('carries a DKIM signature for DKIM_DOMAIN and DKIM_SELECTOR', async () => {
    const { mail } = await welcome('dkim@example.com');
    const signature = rawHeader(mail, 'dkim-signature');
    expect(signature).toMatch(/[;\s]d=mail\.example\.org;/);
    expect(signature).toMatch(/[;\s]s=jan2026;/);
    expect(signature).toMatch(/[;\s]a=rsa-sha256;/);
  });

  it('is from FROM_NAME <FROM_ADDRESS>', async () => {
    const { mail } = await welcome('from@example.com');
    expect(mail.from?.value).toEqual([{ address: 'tickets@mail.example.org', name: 'Example Tickets' }]);
  });

  it('has Reply-To REPLY_TO', async () => {
    const { mail } = await welcome('reply-to@example.com');
    expect(mail.replyTo?.value.map((v) => v.address)).toEqual(['help@example.org']);
  });

  it('has a text/plain and a text/html alternative', async () => {
    const { mail } = await welcome('parts@example.com');
    expect(mail.headers.get('content-type')).toMatchObject({ value: 'multipart/alternative' });
    expect(mail.text).toMatch(/\S/);
    expect(mail.html).toMatch(/<html[\s>]/i);
  });

  it('has MIME boundaries of its own, that neither repeat nor derive from the Message-ID', async () => {
    const [a, b] = await Promise.all([welcome('boundary-a@example.com'), welcome('boundary-b@example.com')]);
    const boundary = (mail: ParsedMail) =>
      (mail.headers.get('content-type') as { params: { boundary: string } }).params.boundary;
    expect(boundary(a.mail)).toMatch(/\S{12,}/);
    expect(boundary(a.mail)).not.toBe(boundary(b.mail));
    const idHash = a.mail.messageId!.replace(/^<|@.*$/g, '');
    expect(boundary(a.mail)).not.toContain(idHash.slice(0, 8));
  });

  it('has no List-Unsubscribe header', async () => {
    const { mail } = await welcome('no-unsubscribe@example.com');
    expect(mail.headers.has('list-unsubscribe')).toBe(false);
    expect(mail.headers.has('list-unsubscribe-post')).toBe(false);
  });
});

describe('the Message-ID', () => {
  it('is the same on both attempts of a job that got 421 and then 250', async () => {
    const first = smtp.transactions + 1;
    smtp.reply = (n) => (n === first ? { code: 421, message: 'Try again later' } : undefined);
    const { result } = await welcome('same-id@example.com');
    const attempts = smtp.received.filter((m) => recipientOf(m) === 'same-id@example.com');
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.messageId).toBeTruthy();
    expect(attempts[1]!.messageId).toBe(attempts[0]!.messageId);
    expect(`<${attempts[0]!.messageId!.replace(/^<|>$/g, '')}>`).toBe(result.message_id);
  });

  it('differs between two jobs', async () => {
    const [a, b] = await Promise.all([welcome('id-a@example.com'), welcome('id-b@example.com')]);
    expect(a.mail.messageId).toBeTruthy();
    expect(a.mail.messageId).not.toBe(b.mail.messageId);
  });
});
