/** An SMTP relay (the primary, or SMTP_FALLBACK_*): nodemailer's pool as mail/transport.ts builds it, named. */
import type { SmtpConfig } from '../../config.js';
import { createMailer, type Sender } from '../transport.js';
import type { Transport } from './transport.js';

export function smtpTransport(name: string, smtp: SmtpConfig & { host: string }, sender: Sender): Transport {
  return { name, ...createMailer(smtp, sender) };
}
