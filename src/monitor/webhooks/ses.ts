/**
 * `POST /webhooks/ses`: Amazon SES bounce and complaint notifications through an SNS HTTP(S) subscription. Each
 * SNS message is verified against the certificate it names — fetched only from a host SNS_CERT_HOST_PATTERN
 * accepts (Amazon's by default) and cached — and taken only from the topics in SNS_TOPIC_ARNS. A
 * SubscriptionConfirmation is confirmed by fetching its SubscribeURL (same host rule).
 * https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
 */
import { createVerify } from 'node:crypto';
import type { Request } from 'express';
import { isAddress, MAX_EVENTS, type BounceEvent } from './bounce-events.js';
import { TOLERANCE_S } from './generic.js';
import { WebhookRefusal, type Verified } from './webhook-refusal.js';

export interface SnsSettings {
  topicArns: readonly string[];
  certHost: RegExp;
}

type SnsMessage = Record<string, string | undefined>;

const SIGNED_FIELDS: Record<string, readonly string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: [
    'Message',
    'MessageId',
    'SubscribeURL',
    'Timestamp',
    'Token',
    'TopicArn',
    'Type',
  ],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};
const FETCH_TIMEOUT_MS = 5_000;
const MAX_CERT_BYTES = 16_384;

/** SNS signs "Key\nValue\n" for each of the type's fields that is present, in this order. */
export function snsStringToSign(message: SnsMessage): string {
  const fields = SIGNED_FIELDS[message.Type ?? ''] ?? [];
  return fields
    .filter((field) => message[field] !== undefined)
    .map((field) => `${field}\n${message[field]}\n`)
    .join('');
}

export function createSesVerifier(settings: SnsSettings) {
  const certificates = new Map<string, string>();

  /** A URL of the SNS service itself: https (http only on loopback, for tests) on an accepted host. */
  const trusted = (text: string | undefined): URL => {
    let url: URL;
    try {
      url = new URL(text ?? '');
    } catch {
      throw new WebhookRefusal(401, 'bad signature: no valid certificate URL');
    }
    const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost';
    if (
      (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) ||
      !settings.certHost.test(url.hostname)
    )
      throw new WebhookRefusal(401, 'bad signature: the certificate URL is not an SNS host');
    return url;
  };

  const certificate = async (url: URL): Promise<string> => {
    const known = certificates.get(url.href);
    if (known) return known;
    const pem = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'error' }).then(
      async (response) => (response.ok ? response.text() : ''),
      () => '',
    );
    if (pem.length > MAX_CERT_BYTES || !pem.includes('-----BEGIN CERTIFICATE-----'))
      throw new WebhookRefusal(401, 'bad signature: the certificate could not be fetched');
    if (certificates.size >= 20) certificates.clear();
    certificates.set(url.href, pem);
    return pem;
  };

  return async (req: Request, nowMs = Date.now()): Promise<Verified> => {
    let message: SnsMessage;
    try {
      message = JSON.parse((req.body as Buffer).toString('utf8')) as SnsMessage;
    } catch {
      throw new WebhookRefusal(400, 'body is not JSON');
    }
    if (!SIGNED_FIELDS[message.Type ?? ''] || !message.Signature)
      throw new WebhookRefusal(400, 'not an SNS message');
    const algorithm = message.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1';
    const pem = await certificate(trusted(message.SigningCertURL ?? message.SigningCertUrl));
    let valid: boolean;
    try {
      valid = createVerify(algorithm)
        .update(snsStringToSign(message))
        .verify(pem, message.Signature, 'base64');
    } catch {
      // Not a certificate with an RSA key after all.
      valid = false;
    }
    if (!valid) throw new WebhookRefusal(401, 'bad signature');
    if (!settings.topicArns.includes(message.TopicArn ?? ''))
      throw new WebhookRefusal(403, 'topic not in SNS_TOPIC_ARNS');
    const sentAt = Date.parse(message.Timestamp ?? '');
    // SNS retries for up to an hour: older than that is a replay, not a retry.
    if (!(Math.abs(nowMs - sentAt) <= 3_600_000 + TOLERANCE_S * 1000))
      throw new WebhookRefusal(409, 'timestamp too old: a replay?');
    if (message.Type === 'SubscriptionConfirmation') {
      const confirmed = await fetch(trusted(message.SubscribeURL), {
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        redirect: 'error',
      }).then(
        (response) => response.status,
        (error: Error) => error.message,
      );
      if (confirmed !== 200)
        throw new WebhookRefusal(502, `confirming the subscription failed: ${confirmed}`);
      return { receiptId: message.MessageId, events: [] };
    }
    if (message.Type !== 'Notification') return { receiptId: message.MessageId, events: [] };
    return { receiptId: message.MessageId, events: sesEvents(message.Message ?? '') };
  };
}

interface SesNotification {
  notificationType?: string;
  eventType?: string;
  mail?: { messageId?: string; commonHeaders?: { messageId?: string } };
  bounce?: {
    bounceType?: string;
    bouncedRecipients?: Array<{ emailAddress?: string; diagnosticCode?: string }>;
  };
  complaint?: { complainedRecipients?: Array<{ emailAddress?: string }>; complaintFeedbackType?: string };
}

/** SES's own notification (or event publishing's event) inside the SNS message. */
function sesEvents(text: string): BounceEvent[] {
  let notification: SesNotification;
  try {
    notification = JSON.parse(text) as SesNotification;
  } catch {
    throw new WebhookRefusal(400, 'the SNS message is not an SES notification');
  }
  // Our Message-ID, as we sent it; SES's own id is another.
  const messageId = notification.mail?.commonHeaders?.messageId;
  const type = notification.notificationType ?? notification.eventType;
  if (type === 'Bounce') {
    const kind = notification.bounce?.bounceType === 'Permanent' ? 'hard' : 'soft';
    return (notification.bounce?.bouncedRecipients ?? [])
      .slice(0, MAX_EVENTS)
      .filter((r) => isAddress(r.emailAddress))
      .map((r) => ({ kind, address: r.emailAddress!.trim(), messageId, detail: r.diagnosticCode }));
  }
  if (type === 'Complaint') {
    return (notification.complaint?.complainedRecipients ?? [])
      .slice(0, MAX_EVENTS)
      .filter((r) => isAddress(r.emailAddress))
      .map((r) => ({
        kind: 'complaint' as const,
        address: r.emailAddress!.trim(),
        messageId,
        detail: notification.complaint?.complaintFeedbackType,
      }));
  }
  return [];
}
