/**
 * One pooled nodemailer transport per process. Retries belong to the job (which knows whether the email was
 * already accepted), so the pool never re-sends by itself and each of its timeouts stays below the job's. A send
 * can be withdrawn: aborting its signal removes a message still waiting for a pooled connection, and closes the
 * connection of one being transmitted, so an attempt that gave up can no longer reach the server.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import type { SmtpConfig } from '../config.js';
import type { OutgoingEmail, SentEmail } from '../email-types.js';
import { toSmtpError } from './smtp-errors.js';

export interface Sender {
  address: string;
  name: string;
  replyTo?: string | undefined;
}

export interface SendOptions {
  /** Aborting it withdraws the message (see above); the send then rejects. */
  signal?: AbortSignal | undefined;
  /** Called once the server has said 354 and the message starts to go out: from here it may arrive. */
  onData?: (() => void) | undefined;
}

export interface Mailer {
  send(email: OutgoingEmail, options?: SendOptions): Promise<SentEmail>;
  /** Opens a connection and authenticates; throws the classified error when that fails. */
  verify(): Promise<void>;
  close(): void;
}

/** Where a send's `onData` rides along, through nodemailer's message data, to the stream plugin. */
const ON_DATA = 'emailWorkersOnData';

export function createMailer(smtp: SmtpConfig & { host: string }, sender: Sender): Mailer {
  const transporter = nodemailer.createTransport({
    pool: true,
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.requireTls,
    ignoreTLS: !smtp.secure && !smtp.requireTls && isLoopback(smtp.host),
    auth: smtp.username ? { user: smtp.username, pass: smtp.password ?? '' } : undefined,
    tls: { rejectUnauthorized: smtp.tlsRejectUnauthorized },
    maxConnections: smtp.poolSize,
    maxMessages: smtp.maxMessages,
    maxRequeues: 0,
    connectionTimeout: smtp.connectionTimeoutMs,
    greetingTimeout: smtp.greetingTimeoutMs,
    socketTimeout: smtp.socketTimeoutMs,
    dkim: smtp.dkim,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  // The pool pipes a message's stream into the connection only after the server's 354 reply to DATA: that pipe is
  // the moment the message may start to arrive, which nothing else in nodemailer's API reports.
  transporter.use('stream', (mail, done) => {
    const onData = (mail.data as Record<string, unknown>)[ON_DATA] as (() => void) | undefined;
    if (onData) {
      const message = mail.message;
      const createReadStream = message.createReadStream.bind(message);
      message.createReadStream = (...args: Parameters<typeof createReadStream>) => {
        const stream = wholeMessage(createReadStream(...args));
        const pipe = stream.pipe.bind(stream);
        stream.pipe = ((destination: NodeJS.WritableStream, options?: { end?: boolean }) => {
          onData();
          return pipe(destination, options);
        }) as typeof stream.pipe;
        return stream;
      };
    }
    done();
  });
  const from = { address: sender.address, name: sender.name };
  const replyTo = sender.replyTo ? { address: sender.replyTo, name: sender.name } : undefined;

  return {
    async send(email, options = {}) {
      let dataStarted = false;
      try {
        const message: SendMailOptions & Record<string, unknown> = {
          from,
          replyTo,
          to: email.toName ? { address: email.to, name: email.toName } : email.to,
          subject: email.subject,
          html: email.html,
          text: email.text,
          messageId: email.messageId,
          headers: email.headers,
          // Our emails are mostly ASCII markup: quoted-printable is what nodemailer would pick, and naming it
          // skips a character-by-character scan of every part (the largest cost per message in a profile).
          textEncoding: 'quoted-printable',
          signal: options.signal,
          [ON_DATA]: () => {
            dataStarted = true;
            options.onData?.();
          },
        };
        const info = await transporter.sendMail(message);
        return { messageId: info.messageId, response: info.response };
      } catch (error) {
        throw toSmtpError(error, dataStarted);
      }
    },
    async verify() {
      try {
        await transporter.verify();
      } catch (error) {
        throw toSmtpError(error);
      }
    },
    close() {
      // Connections still delivering are cut too: by now every send in flight has been given up.
      transporter.close({ force: true });
    },
  };
}

/**
 * The same key always yields the same Message-ID, so copies of one email sent twice (a retry after a lost
 * reply) can be recognised, and threaded as one, by the receiving side.
 */
export function messageIdFor(key: string, fromAddress: string): string {
  const domain = fromAddress.slice(fromAddress.lastIndexOf('@') + 1) || 'localhost';
  return `<${createHash('sha256').update(key).digest('hex').slice(0, 32)}@${domain}>`;
}

/**
 * The message as one chunk: nodemailer's MIME stream yields it in pieces (each header, each encoded line group),
 * and each piece piped to the socket was a write of its own (9 % of the worker's CPU in a profile). The message
 * is some kilobytes, built in memory anyway; collected, it goes out in one write.
 */
function wholeMessage(source: Readable): Readable {
  const chunks: Buffer[] = [];
  const whole = new Readable({ read() {} });
  source.on('data', (chunk: Buffer | string) =>
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk),
  );
  source.once('end', () => {
    whole.push(Buffer.concat(chunks));
    whole.push(null);
  });
  source.once('error', (error) => whole.destroy(error));
  whole.once('close', () => source.destroy());
  return whole;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
