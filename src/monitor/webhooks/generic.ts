/**
 * `POST /webhooks/bounces`: the documented generic shape, for any relay or a bridge of one's own.
 *
 *   X-Webhook-Timestamp: <unix seconds>
 *   X-Webhook-Signature: sha256=<hex HMAC-SHA256(BOUNCE_WEBHOOK_SECRET, "<timestamp>.<raw body>")>
 *   { "events": [{ "type": "bounce" | "soft_bounce" | "complaint", "email": "…", "message_id": "<…>",
 *                  "detail": "…" }] }
 *
 * A timestamp more than 5 minutes away, or a signature seen before, is a replay (409); a wrong signature is 401.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { isAddress, MAX_EVENTS, type BounceEvent } from './bounce-events.js';
import { WebhookRefusal, type Verified } from './webhook-refusal.js';

export const TOLERANCE_S = 300;

const KINDS: Record<string, BounceEvent['kind']> = {
  bounce: 'hard',
  soft_bounce: 'soft',
  complaint: 'complaint',
};

/** The signature a sender puts in X-Webhook-Signature. */
export function signGeneric(secret: string, timestamp: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

export function verifyGeneric(secret: string, req: Request, nowS = Date.now() / 1000): Verified {
  const body = req.body as Buffer;
  const timestamp = req.get('x-webhook-timestamp') ?? '';
  const signature = req.get('x-webhook-signature') ?? '';
  const expected = Buffer.from(signGeneric(secret, timestamp, body));
  const given = Buffer.from(signature);
  if (!/^\d{1,12}$/.test(timestamp) || given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new WebhookRefusal(401, 'bad signature');
  if (Math.abs(nowS - Number(timestamp)) > TOLERANCE_S)
    throw new WebhookRefusal(409, 'timestamp too old or too far ahead: a replay?');
  let parsed: { events?: unknown };
  try {
    parsed = JSON.parse(body.toString('utf8')) as { events?: unknown };
  } catch {
    throw new WebhookRefusal(400, 'body is not JSON');
  }
  if (!Array.isArray(parsed.events) || parsed.events.length > MAX_EVENTS)
    throw new WebhookRefusal(400, `expected { "events": [...] } with at most ${MAX_EVENTS} events`);
  const events = parsed.events.map((raw: unknown, i): BounceEvent => {
    const event = (raw ?? {}) as Record<string, unknown>;
    const kind = typeof event.type === 'string' ? KINDS[event.type] : undefined;
    if (!kind || !isAddress(event.email))
      throw new WebhookRefusal(400, `events[${i}]: expected type bounce|soft_bounce|complaint and email`);
    return {
      kind,
      address: event.email.trim(),
      messageId: typeof event.message_id === 'string' ? event.message_id.slice(0, 500) : undefined,
      detail: typeof event.detail === 'string' ? event.detail : undefined,
    };
  });
  return { receiptId: signature, events };
}
