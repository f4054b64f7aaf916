/**
 * `POST /webhooks/postmark`: Postmark's bounce and spam-complaint webhooks, authenticated by the basic auth set
 * in the webhook's URL (POSTMARK_WEBHOOK_USER/PASSWORD). A HardBounce is hard; SoftBounce and the other
 * temporary types are soft; a SpamComplaint is a complaint. Postmark's own record ID refuses replays.
 * https://postmarkapp.com/developer/webhooks/bounce-webhook
 */
import type { Request } from 'express';
import type { Credentials } from '../../config.js';
import { secretMatcher } from '../auth.js';
import { isAddress, type BounceEvent } from './bounce-events.js';
import { WebhookRefusal, type Verified } from './webhook-refusal.js';

const HARD = new Set(['HardBounce', 'BadEmailAddress', 'ManuallyDeactivated']);
const SOFT = new Set(['SoftBounce', 'Transient', 'DnsError', 'MailboxFull']);

export function createPostmarkVerifier(credentials: Credentials) {
  const user = secretMatcher(credentials.user);
  const password = secretMatcher(credentials.password);
  return (req: Request): Verified => {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.get('authorization') ?? '');
    const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const checks = [user(decoded.slice(0, Math.max(0, colon))), password(decoded.slice(colon + 1))];
    if (colon < 0 || !checks.every(Boolean)) throw new WebhookRefusal(401, 'bad credentials');
    let record: Record<string, unknown>;
    try {
      record = JSON.parse((req.body as Buffer).toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new WebhookRefusal(400, 'body is not JSON');
    }
    const type = String(record.Type ?? '');
    const kind: BounceEvent['kind'] | undefined =
      record.RecordType === 'SpamComplaint' || type === 'SpamComplaint'
        ? 'complaint'
        : HARD.has(type)
          ? 'hard'
          : SOFT.has(type)
            ? 'soft'
            : undefined;
    const receiptId = record.ID === undefined ? undefined : String(record.ID);
    if (!kind || !isAddress(record.Email)) return { receiptId, events: [] };
    return {
      receiptId,
      events: [
        {
          kind,
          address: record.Email.trim(),
          messageId: typeof record.MessageID === 'string' ? record.MessageID : undefined,
          detail: typeof record.Description === 'string' ? record.Description : undefined,
        },
      ],
    };
  };
}
