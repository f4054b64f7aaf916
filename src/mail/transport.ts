/**
 * One pooled nodemailer transport per process. Retries belong to the job (which knows whether the email was
 * already accepted), so the pool never re-sends by itself and each of its timeouts stays below the job's.
 */
import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { SmtpConfig } from '../config.js';
import { toSmtpError } from './smtp-errors.js';

// The shapes the task contract's `send` uses, declared here too: mail/ does not import tasks/, and TypeScript
// matches them by structure where queues/ joins the two.
export interface OutgoingEmail {
  to: string;
  toName?: string | undefined;
  subject: string;
  html: string;
  text: string;
  messageId?: string | undefined;
}

export interface SentEmail {
  messageId: string;
  response: string;
}

export interface Sender {
  address: string;
  name: string;
  replyTo?: string | undefined;
}

export interface Mailer {
  send(email: OutgoingEmail): Promise<SentEmail>;
  /** Opens a connection and authenticates; throws the classified error when that fails. */
  verify(): Promise<void>;
  close(): void;
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
  const from = { address: sender.address, name: sender.name };
  const replyTo = sender.replyTo ? { address: sender.replyTo, name: sender.name } : undefined;

  return {
    async send(email) {
      try {
        const info = await transporter.sendMail({
          from,
          replyTo,
          to: email.toName ? { address: email.to, name: email.toName } : email.to,
          subject: email.subject,
          html: email.html,
          text: email.text,
          messageId: email.messageId,
          // Our emails are mostly ASCII markup: quoted-printable is what nodemailer would pick, and naming it
          // skips a character-by-character scan of every part (the largest cost per message in a profile).
          textEncoding: 'quoted-printable',
        });
        return { messageId: info.messageId, response: info.response };
      } catch (error) {
        throw toSmtpError(error);
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
      transporter.close();
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

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
