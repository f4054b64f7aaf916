/**
 * A real SMTP server on a random loopback port that parses what it receives with mailparser. `reply` decides,
 * per DATA transaction (numbered from 1), whether to accept (`undefined`) or answer with an error code.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { waitFor } from './wait.js';

export interface SmtpReply {
  code: number;
  message: string;
}

export interface SmtpSink {
  port: number;
  /** Messages accepted (250), parsed. */
  messages: ParsedMail[];
  /** Every message parsed, accepted or rejected, in arrival order. */
  received: ParsedMail[];
  /** DATA transactions seen, accepted or not. */
  transactions: number;
  /** Replies for transaction n; return undefined to accept. Replaceable at any time. */
  reply: (n: number) => SmtpReply | undefined;
  /** Runs before the reply to transaction n, e.g. to break something right before a 250. */
  beforeReply: ((n: number) => Promise<void>) | undefined;
  /** Holds the replies to MAIL FROM and RCPT TO this long: a slow server, step by step. */
  stepDelayMs: number;
  /** Holds each message this long before replying (to keep jobs in flight). */
  delayMs: number;
  /** Replies to RCPT TO for an address; return undefined to accept. */
  rcptReply: (address: string) => SmtpReply | undefined;
  /** Every RCPT TO address seen, accepted or not. */
  recipients: string[];
  waitForMessages(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  close(): Promise<void>;
}

export interface SmtpSinkOptions {
  /** Offer AUTH and refuse every login with 535 (a relay that does not take our credentials). */
  refuseAuth?: boolean;
}

export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const sink: SmtpSink = {
    port: 0,
    messages: [],
    received: [],
    transactions: 0,
    reply: () => undefined,
    beforeReply: undefined,
    stepDelayMs: 0,
    delayMs: 0,
    rcptReply: () => undefined,
    recipients: [],
    waitForMessages: (count, timeoutMs = 15_000) =>
      waitFor(() => sink.messages.length >= count && sink.messages, { timeoutMs, what: `${count} messages` }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    authOptional: !options.refuseAuth,
    disabledCommands: options.refuseAuth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(_auth, _session, callback) {
      callback(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
    },
    onMailFrom(_address, _session, callback) {
      setTimeout(() => callback(), sink.stepDelayMs);
    },
    onRcptTo(address, _session, callback) {
      sink.recipients.push(address.address);
      const reply = sink.rcptReply(address.address);
      setTimeout(
        () =>
          callback(reply ? Object.assign(new Error(reply.message), { responseCode: reply.code }) : undefined),
        sink.stepDelayMs,
      );
    },
    onData(stream, _session, callback) {
      const n = ++sink.transactions;
      simpleParser(stream).then(
        async (mail) => {
          sink.received.push(mail);
          if (sink.delayMs) await new Promise((resolve) => setTimeout(resolve, sink.delayMs));
          await sink.beforeReply?.(n);
          const reply = sink.reply(n);
          if (reply) {
            callback(Object.assign(new Error(reply.message), { responseCode: reply.code }));
            return;
          }
          sink.messages.push(mail);
          callback(null, `OK queued as ${n}`);
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  sink.port = (server.server.address() as AddressInfo).port;
  return sink;
}

/** A port where nothing listens: an SMTP server that is down. */
export async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
