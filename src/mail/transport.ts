/**
 * One pooled nodemailer transport per process. Retries belong to the job (which knows whether the email was
 * already accepted), so the pool never re-sends by itself and each of its timeouts stays below the job's. A send
 * can be withdrawn: aborting its signal removes a message still waiting for a pooled connection, and closes the
 * connection of one being transmitted. Closing withdraws it only until the envelope is written: with PIPELINING
 * the DATA command leaves with MAIL FROM and RCPT TO, and a server reads it even after the client has closed, so
 * the caller stops aborting from `onEnvelope` on (see process-job.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import type { SmtpConfig } from '../config.js';
import type { OutgoingEmail, SentEmail } from '../email-types.js';
import { isPlainAddress, mimeWriter } from './mime-message.js';
import { toSmtpError } from './smtp-errors.js';

export interface Sender {
  address: string;
  name: string;
  replyTo?: string | undefined;
}

export interface SendOptions {
  /** Aborting it withdraws the message (see above); the send then rejects. */
  signal?: AbortSignal | undefined;
  /**
   * Called as the envelope is written to a connection. With PIPELINING (which every server we know offers) the
   * DATA command goes in the same write, and the server opens a transaction for it whatever the client does next:
   * aborting from here no longer keeps the attempt from the server, it only leaves it a transaction cut short.
   */
  onEnvelope?: (() => void) | undefined;
  /** Called once the server has said 354 and the message starts to go out: from here it may arrive. */
  onData?: (() => void) | undefined;
  /**
   * Called with the message written and its end (the line with the single dot) not yet: the chaos suite's crash
   * point `before-data-end` (src/queues/crash-points.ts) kills the process here.
   */
  beforeDataEnd?: (() => void) | undefined;
}

export interface Mailer {
  send(email: OutgoingEmail, options?: SendOptions): Promise<SentEmail>;
  /** Opens a connection and authenticates; throws the classified error when that fails. */
  verify(): Promise<void>;
  close(): void;
}

/** Where a send's hooks ride along, through nodemailer's message data, to the stream plugin. */
const HOOKS = 'emailWorkersHooks';

interface Hooks {
  onEnvelope(): void;
  onData(): void;
  beforeDataEnd(): void;
}

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
  // The pool creates a message's stream right before it writes the envelope, and pipes it into the connection
  // only after the server's 354 reply to DATA: those are the moments the attempt reaches the server and the
  // message may start to arrive, which nothing else in nodemailer's API reports. The pipe itself is replaced by
  // one write of the whole message (see `pipeWhole`).
  transporter.use('stream', (mail, done) => {
    const hooks = (mail.data as Record<string, unknown>)[HOOKS] as Hooks | undefined;
    const message = mail.message;
    const createReadStream = message.createReadStream.bind(message);
    message.createReadStream = (...args: Parameters<typeof createReadStream>) => {
      hooks?.onEnvelope();
      const stream = createReadStream(...args);
      stream.pipe = ((destination: NodeJS.WritableStream, options?: { end?: boolean }) => {
        hooks?.onData();
        return pipeWhole(stream, destination, options, hooks?.beforeDataEnd);
      }) as typeof stream.pipe;
      return stream;
    };
    done();
  });
  const from = { address: sender.address, name: sender.name };
  const replyTo = sender.replyTo ? { address: sender.replyTo, name: sender.name } : undefined;
  // The usual message is written here in one pass (mime-message.ts); exotic addresses go through nodemailer's
  // composer.
  const writeMime =
    isPlainAddress(sender.address) && (!sender.replyTo || isPlainAddress(sender.replyTo))
      ? mimeWriter({ from, replyTo })
      : undefined;

  return {
    async send(email, options = {}) {
      let dataStarted = false;
      try {
        const messageId = email.messageId ?? messageIdFor(randomBytes(16).toString('hex'), sender.address);
        const fields = {
          to: email.toName ? { address: email.to, name: email.toName } : { address: email.to },
          subject: email.subject,
          text: email.text,
          html: email.html,
          messageId,
          headers: email.headers,
        };
        const content: SendMailOptions =
          writeMime && isPlainAddress(email.to)
            ? {
                envelope: { from: sender.address, to: [email.to] },
                // The raw message carries it; named here too, or nodemailer draws one of its own to ignore.
                messageId,
                raw: writeMime({ ...fields, boundary: nextBoundary(), date: new Date() }),
              }
            : {
                ...fields,
                from,
                replyTo,
                // Quoted-printable is what nodemailer would pick for our mostly ASCII markup, and naming it
                // skips a character-by-character scan of every part.
                textEncoding: 'quoted-printable',
                baseBoundary: nextBoundary(),
              };
        const message: SendMailOptions & Record<string, unknown> = {
          ...content,
          signal: options.signal,
          [HOOKS]: {
            onEnvelope: () => options.onEnvelope?.(),
            onData: () => {
              dataStarted = true;
              options.onData?.();
            },
            beforeDataEnd: () => options.beforeDataEnd?.(),
          } satisfies Hooks,
        };
        const info = await transporter.sendMail(message);
        return { messageId, response: info.response };
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
 * The shared part of a message's MIME boundaries. nodemailer draws 8 random bytes for every MIME part unless it is
 * given one (three draws a message, 2 % of a worker's CPU in a profile). A boundary must be unique within its
 * message and unguessable by whoever writes its content (a name, a title): a secret drawn once per process and a
 * counter are both.
 */
const BOUNDARY_SECRET = randomBytes(8).toString('hex');
let boundaries = 0;
const nextBoundary = () => `${BOUNDARY_SECRET}${(boundaries++).toString(36)}`;

/**
 * The same key always yields the same Message-ID, so copies of one email sent twice (a retry after a lost
 * reply) can be recognised, and threaded as one, by the receiving side.
 */
export function messageIdFor(key: string, fromAddress: string): string {
  const domain = fromAddress.slice(fromAddress.lastIndexOf('@') + 1) || 'localhost';
  return `<${createHash('sha256').update(key).digest('hex').slice(0, 32)}@${domain}>`;
}

/**
 * What `source.pipe(destination)` does, in one write: nodemailer's MIME stream yields each header and each group
 * of encoded lines as a chunk of its own, and piped, each was a write of its own down to the socket (`writeBuffer`
 * under `Readable.ondata`, 7.6 % of the worker's CPU in a profile). The message is some kilobytes; collected, it
 * goes out whole, followed by the end of DATA. Collecting starts here, after the 354, as the pipe did: nothing of
 * the message is built for an envelope the server refuses. A source destroyed by the connection closing never
 * ends, so nothing is written; its errors reach nodemailer's own listener on it, as with a pipe.
 */
function pipeWhole<T extends NodeJS.WritableStream>(
  source: Readable,
  destination: T,
  options?: { end?: boolean },
  beforeEnd?: () => void,
): T {
  const chunks: Buffer[] = [];
  source.on('data', (chunk: Buffer | string) =>
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk),
  );
  source.once('end', () => {
    destination.write(Buffer.concat(chunks));
    beforeEnd?.();
    if (options?.end !== false) destination.end();
  });
  return destination;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
