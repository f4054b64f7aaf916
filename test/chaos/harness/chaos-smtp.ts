/**
 * An SMTP server the chaos scenarios can break: stop it (stop listening and drop every connection) and start it
 * again on the same port, slow it (a delay before each reply to MAIL FROM, RCPT TO and the end of DATA), hang it
 * (read a whole message and never answer), and script its reply to each transaction (a 421 on every second one,
 * a 454 throttle for a while). With `auth` it requires AUTH (PLAIN/LOGIN over plain text on loopback) and answers
 * bad credentials with 535.
 *
 * It records every DATA transaction (accepted, rejected, hung, or dropped when the client went away before the
 * reply) and every accepted message by Message-ID, with its raw header block, so a scenario can count copies and
 * look for injected headers. Headers are read by hand instead of with mailparser: a thousand messages parse in
 * no time, and the raw lines are what a header injection would show in.
 */
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

export interface SmtpReply {
  code: number;
  message: string;
}

export interface HeaderField {
  name: string;
  value: string;
}

export interface Transaction {
  /** 1, 2, … in the order DATA began. */
  n: number;
  /** The SMTP connection it came on. */
  session: string;
  /** When DATA began (ms since the epoch, this machine's clock like the workers' log times). */
  at: number;
  /** When the server answered, or noticed the client had gone. */
  endedAt: number | undefined;
  messageId: string | undefined;
  mailFrom: string;
  rcptTo: string[];
  /** `open` while it runs; `dropped` when the connection closed first (mid-DATA or while hung). */
  outcome: 'open' | 'accepted' | 'rejected' | 'hung' | 'dropped';
  /** The reply code of a rejection. */
  code: number | undefined;
  /** False when the connection closed before the end of DATA. */
  complete: boolean;
}

export interface Delivery {
  messageId: string;
  /** When the server said 250. */
  at: number;
  n: number;
  rcptTo: string[];
  headers: HeaderField[];
  /** The whole message, when the server was started with `keepRaw`. */
  raw: Buffer | undefined;
}

/** What to answer to a transaction once its message is in: accept (undefined), a reply, or never. */
export type Script = (tx: Transaction) => SmtpReply | 'hang' | undefined;

export interface ChaosSmtpOptions {
  /** Require AUTH with these credentials. */
  auth?: { username: string; password: string };
  /** Keep every accepted message whole (for looking into bodies), not only its headers. */
  keepRaw?: boolean;
}

export interface ChaosSmtp {
  port: number;
  readonly listening: boolean;
  transactions: Transaction[];
  deliveries: Delivery[];
  /** Accepted copies per Message-ID. */
  copies: Map<string, number>;
  /** Connections closed, with when. */
  closedSessions: Map<string, number>;
  /** AUTH attempts refused with 535. */
  authFailures: number;
  /** Replaceable at any time. */
  script: Script;
  /** Delay before each reply to MAIL FROM, RCPT TO and the end of DATA: a slow server, step by step. */
  stepDelayMs: number;
  /** Runs right before a 250 goes out, e.g. to break something at exactly that moment. */
  beforeAccept: ((tx: Transaction) => void) | undefined;
  /** Stops listening and drops every connection: the server is down. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startChaosSmtp(options: ChaosSmtpOptions = {}): Promise<ChaosSmtp> {
  let server: SMTPServer | undefined;
  const sockets = new Set<Socket>();
  const current = new Map<string, Transaction>();
  const smtp: ChaosSmtp = {
    port: 0,
    get listening() {
      return server !== undefined;
    },
    transactions: [],
    deliveries: [],
    copies: new Map(),
    closedSessions: new Map(),
    authFailures: 0,
    script: () => undefined,
    stepDelayMs: 0,
    beforeAccept: undefined,
    async stop() {
      const closing = server;
      server = undefined;
      if (!closing) return;
      const closed = new Promise<void>((resolve) => closing.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await closed;
    },
    async start() {
      server = createServer();
      const listening = server;
      await new Promise<void>((resolve, reject) => {
        listening.server.once('error', reject);
        listening.listen(smtp.port, '127.0.0.1', () => resolve());
      });
      smtp.port = (listening.server.address() as AddressInfo).port;
    },
    close: () => smtp.stop(),
  };

  const later = (fn: () => void) => (smtp.stepDelayMs ? setTimeout(fn, smtp.stepDelayMs) : fn());

  function createServer(): SMTPServer {
    const created = new SMTPServer({
      logger: false,
      disabledCommands: options.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
      authOptional: !options.auth,
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      closeTimeout: 100,
      onAuth(auth, _session, callback) {
        if (auth.username === options.auth?.username && auth.password === options.auth?.password) {
          callback(null, { user: auth.username });
          return;
        }
        smtp.authFailures++;
        callback(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
      },
      onMailFrom(_address, _session, callback) {
        later(() => callback());
      },
      onRcptTo(_address, _session, callback) {
        later(() => callback());
      },
      onClose(session) {
        smtp.closedSessions.set(session.id, Date.now());
        const tx = current.get(session.id);
        current.delete(session.id);
        if (tx && (tx.outcome === 'open' || tx.outcome === 'hung')) {
          tx.outcome = 'dropped';
          tx.endedAt = Date.now();
        }
      },
      onData(stream, session, callback) {
        const tx = beginTransaction(session);
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          tx.messageId ??= headerValue(parseHeaders(Buffer.concat(chunks)), 'message-id');
        });
        stream.on('error', () => undefined);
        stream.on('end', () => {
          tx.complete = true;
          const raw = Buffer.concat(chunks);
          const headers = parseHeaders(raw);
          tx.messageId = headerValue(headers, 'message-id');
          const reply = smtp.script(tx);
          if (reply === 'hang') {
            tx.outcome = 'hung';
            return;
          }
          later(() => {
            if (tx.outcome !== 'open') return; // the client went away meanwhile
            tx.endedAt = Date.now();
            current.delete(session.id);
            if (reply) {
              tx.outcome = 'rejected';
              tx.code = reply.code;
              callback(Object.assign(new Error(reply.message), { responseCode: reply.code }));
              return;
            }
            smtp.beforeAccept?.(tx);
            tx.outcome = 'accepted';
            const messageId = tx.messageId ?? `(none in transaction ${tx.n})`;
            smtp.copies.set(messageId, (smtp.copies.get(messageId) ?? 0) + 1);
            smtp.deliveries.push({
              messageId,
              at: tx.endedAt,
              n: tx.n,
              rcptTo: tx.rcptTo,
              headers,
              raw: options.keepRaw ? raw : undefined,
            });
            callback(null, `2.0.0 OK queued as ${tx.n}`);
          });
        });
      },
    });
    created.on('error', () => undefined);
    created.server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    return created;
  }

  function beginTransaction(session: SMTPServerSession): Transaction {
    const tx: Transaction = {
      n: smtp.transactions.length + 1,
      session: session.id,
      at: Date.now(),
      endedAt: undefined,
      messageId: undefined,
      mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
      rcptTo: session.envelope.rcptTo.map((r) => r.address),
      outcome: 'open',
      code: undefined,
      complete: false,
    };
    smtp.transactions.push(tx);
    current.set(session.id, tx);
    return tx;
  }

  await smtp.start();
  return smtp;
}

/** A 421 to every second transaction (2, 4, …): a relay that drops every other message. */
export function everySecondTransaction(reply: SmtpReply): Script {
  return (tx) => (tx.n % 2 === 0 ? reply : undefined);
}

/** `reply` to every transaction until `untilMs` (epoch ms), then accept: a relay's throttle. */
export function throttleUntil(untilMs: number, reply: SmtpReply): Script {
  return () => (Date.now() < untilMs ? reply : undefined);
}

/** The header block of a raw message, unfolded; stops at the first empty line. */
export function parseHeaders(raw: Buffer): HeaderField[] {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const block = end === -1 ? text : text.slice(0, end);
  const fields: HeaderField[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length) {
      fields[fields.length - 1]!.value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    // A line without a colon in a header block is itself the sign of an injection: keep it, nameless.
    fields.push(
      colon === -1
        ? { name: '', value: line }
        : { name: line.slice(0, colon), value: line.slice(colon + 1).trim() },
    );
  }
  return fields;
}

function headerValue(headers: HeaderField[], name: string): string | undefined {
  return headers.find((h) => h.name.toLowerCase() === name)?.value;
}
