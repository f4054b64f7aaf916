/**
 * The benchmark's SMTP server, in a process of its own so its work is not charged to the worker: accepts every
 * message, keeps nothing but the Message-ID and the moment of the 250, and reports them to the parent over IPC.
 * Run: node --import tsx bench/smtp-sink.ts (forked by bench/run.ts).
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

const now = () => performance.timeOrigin + performance.now();
let pending: Array<[string, number]> = [];

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  maxClients: 1000,
  // A reverse DNS lookup per connection would add its own delay to every new pooled connection.
  disableReverseLookup: true,
  onData(stream, _session, callback) {
    let head = '';
    stream.on('data', (chunk: Buffer) => {
      if (head.length < 4096) head += chunk.toString('latin1');
    });
    stream.on('end', () => {
      const messageId = /^Message-ID:\s*(<[^>]+>)/im.exec(head)?.[1] ?? '';
      pending.push([messageId, now()]);
      callback(null, 'OK');
    });
  },
});

const flush = () => {
  if (pending.length && process.send) {
    process.send({ type: 'accepted', accepted: pending });
    pending = [];
  }
};
setInterval(flush, 50).unref();

server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.server.address() as AddressInfo).port });
});
process.on('message', (message: { type: string }) => {
  if (message.type === 'flush') {
    flush();
    process.send?.({ type: 'flushed' });
  }
});
process.on('disconnect', () => process.exit(0));
