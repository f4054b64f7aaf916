/**
 * The routes relays and recipients call, mounted before the monitor's login: each has its own authentication
 * (a signature, basic auth of its own, an unsubscribe token). A relay's endpoint whose secret is not configured
 * answers 404, as if it did not exist.
 *   POST /webhooks/bounces    generic JSON, HMAC-SHA256 (BOUNCE_WEBHOOK_SECRET)
 *   POST /webhooks/ses        Amazon SES through SNS (SNS_TOPIC_ARNS)
 *   POST /webhooks/sendgrid   SendGrid Event Webhook (SENDGRID_WEBHOOK_PUBLIC_KEY)
 *   POST /webhooks/postmark   Postmark (POSTMARK_WEBHOOK_USER/PASSWORD)
 *   GET|POST /unsubscribe     RFC 8058 one-click (SUBSCRIBED_TASKS)
 */
import express, { type Request, type Response, type Router } from 'express';
import type { DeliverabilityConfig } from '../../config.js';
import type { Ledger } from '../../db/ledger/index.js';
import type { SuppressionList } from '../../db/suppressions.js';
import { maskEmail, type Logger } from '../../logger.js';
import { addressOfToken } from '../../mail/list-unsubscribe.js';
import { escapeHtml } from '../pages/html.js';
import { applyBounceEvents } from './bounce-events.js';
import { verifyGeneric } from './generic.js';
import { createPostmarkVerifier } from './postmark.js';
import { createSendgridVerifier } from './sendgrid.js';
import { createSesVerifier } from './ses.js';
import { WebhookRefusal, type Verified } from './webhook-refusal.js';

export interface WebhookDeps {
  config: DeliverabilityConfig;
  /** Undefined without a database: every endpoint answers 503. */
  suppressions: SuppressionList | undefined;
  ledger: Ledger | undefined;
  logger: Logger;
}

export function createWebhookRouter({ config, suppressions, ledger, logger }: WebhookDeps): Router {
  const router = express.Router();
  const raw = express.raw({ type: () => true, limit: '1mb' });
  const { webhooks } = config;
  const verifiers: Record<string, ((req: Request) => Verified | Promise<Verified>) | undefined> = {
    bounces: webhooks.genericSecret ? (req) => verifyGeneric(webhooks.genericSecret!, req) : undefined,
    ses: webhooks.snsTopicArns.length
      ? createSesVerifier({ topicArns: webhooks.snsTopicArns, certHost: webhooks.snsCertHost })
      : undefined,
    sendgrid: webhooks.sendgridPublicKey ? createSendgridVerifier(webhooks.sendgridPublicKey) : undefined,
    postmark: webhooks.postmark ? createPostmarkVerifier(webhooks.postmark) : undefined,
  };

  router.post('/webhooks/:provider', raw, async (req: Request, res: Response) => {
    const provider = String(req.params.provider);
    const verify = Object.hasOwn(verifiers, provider) ? verifiers[provider] : undefined;
    if (!verify) return void res.status(404).type('text/plain').send('not found\n');
    if (!suppressions) return void res.status(503).type('text/plain').send('no database configured\n');
    try {
      const { receiptId, events } = await verify(req);
      if (receiptId !== undefined && !(await suppressions.takeReceipt(provider, receiptId)))
        throw new WebhookRefusal(409, 'already received: a replay?');
      const suppressed = await applyBounceEvents(provider, events, {
        suppressions,
        ledger,
        suppressionDays: config.suppressionDays,
        logger,
      });
      res.json({ received: events.length, suppressed });
    } catch (error) {
      if (!(error instanceof WebhookRefusal)) throw error;
      logger.warn({ provider, status: error.status, reason: error.message }, 'webhook refused');
      res.status(error.status).json({ error: error.message });
    }
  });

  const unsubscribe = config.unsubscribe;
  const addressOf = (req: Request) =>
    unsubscribe && typeof req.query.token === 'string'
      ? addressOfToken(unsubscribe.secret, req.query.token)
      : undefined;
  // RFC 8058: a GET (a mail client's link preview, a scanner) must not unsubscribe; it shows a button that does.
  router.get('/unsubscribe', (req, res) => {
    const address = addressOf(req);
    if (!address)
      return void res.status(400).type('text/plain').send('invalid or missing unsubscribe link\n');
    res
      .type('html')
      .send(
        `<!doctype html><meta charset="utf-8"><title>Unsubscribe</title><form method="post">` +
          `<p>Stop emails to ${escapeHtml(address)}?</p><button name="List-Unsubscribe" value="One-Click">` +
          `Unsubscribe</button></form>`,
      );
  });
  router.post('/unsubscribe', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const address = addressOf(req);
    if (!address)
      return void res.status(400).type('text/plain').send('invalid or missing unsubscribe link\n');
    if (!suppressions) return void res.status(503).type('text/plain').send('no database configured\n');
    await suppressions.add({ address, reason: 'unsubscribe', source: 'unsubscribe' });
    logger.info({ to: maskEmail(address) }, 'unsubscribed');
    res.type('text/plain').send('unsubscribed\n');
  });
  return router;
}
