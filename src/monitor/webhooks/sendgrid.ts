/**
 * `POST /webhooks/sendgrid`: SendGrid's Event Webhook with its signature on: ECDSA (P-256, SHA-256) over the
 * timestamp header followed by the raw body, checked against SENDGRID_WEBHOOK_PUBLIC_KEY.
 * https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
 * `bounce` (type bounce) is hard, `bounce` of type blocked is soft, `spamreport` is a complaint; `dropped` and
 * `deferred` say nothing new about the address.
 */
import { createPublicKey, createVerify, type KeyObject } from 'node:crypto';
import type { Request } from 'express';
import { publicKeyInput } from '../../config.js';
import { isAddress, MAX_EVENTS, type BounceEvent } from './bounce-events.js';
import { TOLERANCE_S } from './generic.js';
import { WebhookRefusal, type Verified } from './webhook-refusal.js';

export const SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
export const TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';

export function createSendgridVerifier(publicKey: string) {
  const key: KeyObject = createPublicKey(publicKeyInput(publicKey));
  return (req: Request, nowS = Date.now() / 1000): Verified => {
    const signature = req.get(SIGNATURE_HEADER) ?? '';
    const timestamp = req.get(TIMESTAMP_HEADER) ?? '';
    const body = req.body as Buffer;
    let valid: boolean;
    try {
      valid = createVerify('sha256').update(timestamp).update(body).verify(key, signature, 'base64');
    } catch {
      valid = false;
    }
    if (!valid || !/^\d{1,12}$/.test(timestamp)) throw new WebhookRefusal(401, 'bad signature');
    if (Math.abs(nowS - Number(timestamp)) > TOLERANCE_S)
      throw new WebhookRefusal(409, 'timestamp too old or too far ahead: a replay?');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new WebhookRefusal(400, 'body is not JSON');
    }
    if (!Array.isArray(parsed) || parsed.length > MAX_EVENTS)
      throw new WebhookRefusal(400, `expected an array of at most ${MAX_EVENTS} events`);
    const events = (parsed as Array<Record<string, unknown>>).flatMap((event): BounceEvent[] => {
      const kind =
        event.event === 'spamreport'
          ? 'complaint'
          : event.event === 'bounce'
            ? event.type === 'blocked'
              ? 'soft'
              : 'hard'
            : undefined;
      if (!kind || !isAddress(event.email)) return [];
      return [
        {
          kind,
          address: event.email.trim(),
          messageId: typeof event['smtp-id'] === 'string' ? event['smtp-id'] : undefined,
          detail: typeof event.reason === 'string' ? event.reason : undefined,
        },
      ];
    });
    return { receiptId: signature, events };
  };
}
