/**
 * The development outbox as a transport: starts the capture server (mail/outbox.ts, .eml files) and sends to it
 * over SMTP on loopback, so development exercises the same delivery path as production. Closing it closes both.
 */
import type { SmtpConfig } from '../../config.js';
import { startOutbox, type Outbox } from '../outbox.js';
import { createMailer, type Sender } from '../transport.js';
import type { Transport } from './transport.js';

export async function outboxTransport(
  smtp: SmtpConfig,
  sender: Sender,
): Promise<Transport & { readonly outbox: Outbox }> {
  const outbox = await startOutbox(smtp.outboxDir);
  const mailer = createMailer({ ...smtp, host: outbox.host, port: outbox.port }, sender);
  return {
    name: 'outbox',
    outbox,
    send: mailer.send,
    verify: mailer.verify,
    // Returns the capture server's closing, for a caller that waits for it (the worker's shutdown does).
    close() {
      mailer.close();
      return outbox.close();
    },
  };
}
