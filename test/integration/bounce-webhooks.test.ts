/**
 * The monitor's bounce webhooks, each with a real signature made here: the generic JSON (HMAC-SHA256), Amazon
 * SES through SNS (an RSA certificate of the test's own, served from a loopback HTTP server), SendGrid (ECDSA
 * P-256) and Postmark (basic auth). A wrong signature is 401, a replay 409; each suppresses the address it names
 * without the board's login. A hard bounce marks the ledger row of its Message-ID bounced; a soft bounce
 * suppresses only at the third within 7 days. And the one-click unsubscribe.
 */
import { createSign, generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { unsubscribeToken } from '../../src/mail/list-unsubscribe.js';
import { signGeneric } from '../../src/monitor/webhooks/generic.js';
import { snsStringToSign } from '../../src/monitor/webhooks/ses.js';
import {
  basic,
  monitorEnv,
  OPERATOR,
  startTestMonitor,
  VIEWER,
  type TestMonitor,
} from '../helpers/monitor.js';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../helpers/postgres.js';
import { removePrefix, uniquePrefix } from '../helpers/redis.js';
import { makeCertificates } from '../helpers/tls-certificates.js';

const SECRET = 'generic-webhook-secret-0123';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:ses-bounces';
const UNSUBSCRIBE_SECRET = 'unsubscribe-secret-0123456789';
const sendgridKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const POSTMARK = { user: 'postmark', password: 'postmark-secret-42' };

let db: TestSchema;
let prefix: string;
let m: TestMonitor;
let certDir: string;
let snsKey: string;
let snsServer: Server;
let snsBase: string;
const confirmations: string[] = [];

beforeAll(async () => {
  db = await createTestSchema('webhooks');
  await migrate(db.pool, db.schema);
  certDir = mkdtempSync(join(tmpdir(), 'sns-'));
  const files = makeCertificates(certDir);
  snsKey = readFileSync(files.keyFile, 'utf8');
  const certificate = readFileSync(files.certFile, 'utf8');
  snsServer = createServer((req, res) => {
    if (req.url === '/SimpleNotificationService-test.pem') return void res.end(certificate);
    if (req.url?.startsWith('/confirm')) {
      confirmations.push(req.url);
      return void res.end('<ConfirmSubscriptionResponse/>');
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => snsServer.listen(0, '127.0.0.1', () => resolve()));
  snsBase = `http://127.0.0.1:${(snsServer.address() as AddressInfo).port}`;
  prefix = uniquePrefix('webhooks');
  m = await startTestMonitor(prefix, {
    ...monitorEnv,
    DATABASE_URL: TEST_DATABASE_URL,
    LEDGER_SCHEMA: db.schema,
    BOUNCE_WEBHOOK_SECRET: SECRET,
    SNS_TOPIC_ARNS: TOPIC,
    SNS_CERT_HOST_PATTERN: '^127\\.0\\.0\\.1$',
    SENDGRID_WEBHOOK_PUBLIC_KEY: sendgridKeys.publicKey
      .export({ format: 'der', type: 'spki' })
      .toString('base64'),
    POSTMARK_WEBHOOK_USER: POSTMARK.user,
    POSTMARK_WEBHOOK_PASSWORD: POSTMARK.password,
    SUBSCRIBED_TASKS: 'send_welcome_email',
    UNSUBSCRIBE_SECRET,
    PUBLIC_BASE_URL: 'https://mail.example.com',
  });
});

afterAll(async () => {
  await m?.close();
  await new Promise((resolve) => snsServer?.close(resolve));
  rmSync(certDir, { recursive: true, force: true });
  await db?.drop();
  await removePrefix(prefix);
});

const suppressionOf = async (address: string) =>
  (
    await db.pool.query<{ reason: string; source: string; permanent: boolean }>(
      `SELECT reason, source, expires_at IS NULL AS permanent FROM ${db.schema}.email_suppressions
        WHERE address = $1`,
      [address],
    )
  ).rows[0];

function postGeneric(events: unknown[], options: { secret?: string; timestamp?: number } = {}) {
  const body = JSON.stringify({ events });
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  return {
    body,
    timestamp,
    send: (signature = signGeneric(options.secret ?? SECRET, timestamp, body)) =>
      m.request('/webhooks/bounces', {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'x-webhook-timestamp': timestamp,
          'x-webhook-signature': signature,
        },
      }),
  };
}

describe('POST /webhooks/bounces (generic)', () => {
  it('suppresses a hard-bounced address and marks its delivery bounced, without the board login', async () => {
    await db.pool.query(
      `INSERT INTO ${db.schema}.email_deliveries (idempotency_key, job_id, queue, task, recipient, status, message_id)
       VALUES ('k-hard', '1', 'auth_emails', 'send_welcome_email', 'hard@example.com', 'sent', '<abc@events.example.com>')`,
    );
    const response = await postGeneric([
      {
        type: 'bounce',
        email: 'hard@example.com',
        message_id: 'abc@events.example.com',
        detail: '550 5.1.1',
      },
    ]).send();
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ received: 1, suppressed: 1 });
    expect(await suppressionOf('hard@example.com')).toEqual({
      reason: 'bounce',
      source: 'webhook:bounces',
      permanent: false,
    });
    const { rows } = await db.pool.query(
      `SELECT status FROM ${db.schema}.email_deliveries WHERE idempotency_key = 'k-hard'`,
    );
    expect(rows[0].status).toBe('bounced');
  });

  it('refuses a wrong signature with 401 and suppresses nothing', async () => {
    const response = await postGeneric([{ type: 'complaint', email: 'forged@example.com' }], {
      secret: 'not-the-secret-at-all',
    }).send();
    expect(response.status).toBe(401);
    expect(await suppressionOf('forged@example.com')).toBeUndefined();
  });

  it('refuses a replay with 409', async () => {
    const request = postGeneric([{ type: 'complaint', email: 'twice@example.com' }]);
    expect((await request.send()).status).toBe(200);
    expect((await request.send()).status).toBe(409);
    expect(await suppressionOf('twice@example.com')).toMatchObject({ reason: 'complaint', permanent: true });
  });

  it('refuses an old timestamp with 409', async () => {
    const response = await postGeneric([{ type: 'complaint', email: 'late@example.com' }], {
      timestamp: Math.floor(Date.now() / 1000) - 3600,
    }).send();
    expect(response.status).toBe(409);
    expect(await suppressionOf('late@example.com')).toBeUndefined();
  });

  it('suppresses after the third soft bounce, not before', async () => {
    // Each notification its own (the same body in the same second would be a replay).
    for (const [n, expected] of [undefined, undefined].entries()) {
      const event = { type: 'soft_bounce', email: 'soft@example.com', detail: `421 mailbox busy (${n})` };
      expect((await postGeneric([event]).send()).status).toBe(200);
      expect(await suppressionOf('soft@example.com')).toEqual(expected);
    }
    expect((await postGeneric([{ type: 'soft_bounce', email: 'soft@example.com' }]).send()).json()).toEqual({
      received: 1,
      suppressed: 1,
    });
    expect(await suppressionOf('soft@example.com')).toMatchObject({ reason: 'bounce' });
  });
});

function snsMessage(fields: Record<string, string>) {
  const message: Record<string, string> = {
    MessageId: randomUUID(),
    TopicArn: TOPIC,
    Timestamp: new Date().toISOString(),
    SignatureVersion: '2',
    SigningCertURL: `${snsBase}/SimpleNotificationService-test.pem`,
    ...fields,
  };
  message.Signature = createSign('RSA-SHA256').update(snsStringToSign(message)).sign(snsKey, 'base64');
  return message;
}

const postSes = (message: Record<string, string>) =>
  m.request('/webhooks/ses', {
    method: 'POST',
    body: JSON.stringify(message),
    headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': message.Type! },
  });

describe('POST /webhooks/ses (Amazon SES through SNS)', () => {
  it('confirms a subscription by fetching its SubscribeURL', async () => {
    const response = await postSes(
      snsMessage({
        Type: 'SubscriptionConfirmation',
        Message: 'You have chosen to subscribe',
        Token: 'token-1',
        SubscribeURL: `${snsBase}/confirm?token=token-1`,
      }),
    );
    expect(response.status).toBe(200);
    expect(confirmations).toEqual(['/confirm?token=token-1']);
  });

  it('suppresses a permanently bounced address', async () => {
    const notification = {
      notificationType: 'Bounce',
      bounce: { bounceType: 'Permanent', bouncedRecipients: [{ emailAddress: 'ses-gone@example.com' }] },
      mail: { commonHeaders: { messageId: '<ses@events.example.com>' } },
    };
    const message = snsMessage({ Type: 'Notification', Message: JSON.stringify(notification) });
    expect((await postSes(message)).status).toBe(200);
    expect(await suppressionOf('ses-gone@example.com')).toMatchObject({
      reason: 'bounce',
      source: 'webhook:ses',
    });
    expect((await postSes(message)).status).toBe(409);
  });

  it('refuses a message whose signature does not match with 401', async () => {
    const notification = {
      notificationType: 'Complaint',
      complaint: { complainedRecipients: [{ emailAddress: 'ses-forged@example.com' }] },
    };
    const message = snsMessage({ Type: 'Notification', Message: JSON.stringify(notification) });
    message.Message = message.Message!.replace('ses-forged', 'ses-victim');
    expect((await postSes(message)).status).toBe(401);
    expect(await suppressionOf('ses-victim@example.com')).toBeUndefined();
  });

  it('refuses a certificate from a host outside SNS_CERT_HOST_PATTERN with 401', async () => {
    const message = snsMessage({ Type: 'Notification', Message: '{}' });
    message.SigningCertURL = message.SigningCertURL!.replace('127.0.0.1', 'localhost');
    expect((await postSes(message)).status).toBe(401);
  });
});

function postSendgrid(events: unknown[], sign = sendgridKeys.privateKey) {
  const body = JSON.stringify(events);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createSign('sha256')
    .update(timestamp + body)
    .sign(sign, 'base64');
  return () =>
    m.request('/webhooks/sendgrid', {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-twilio-email-event-webhook-signature': signature,
        'x-twilio-email-event-webhook-timestamp': timestamp,
      },
    });
}

describe('POST /webhooks/sendgrid', () => {
  it('suppresses a spam report, and refuses the same request again with 409', async () => {
    const send = postSendgrid([{ event: 'spamreport', email: 'sg-spam@example.com', timestamp: 1 }]);
    expect((await send()).status).toBe(200);
    expect(await suppressionOf('sg-spam@example.com')).toMatchObject({
      reason: 'complaint',
      permanent: true,
    });
    expect((await send()).status).toBe(409);
  });

  it('refuses a signature by another key with 401', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const send = postSendgrid([{ event: 'bounce', type: 'bounce', email: 'sg-forged@example.com' }], other);
    expect((await send()).status).toBe(401);
    expect(await suppressionOf('sg-forged@example.com')).toBeUndefined();
  });
});

describe('POST /webhooks/postmark', () => {
  const post = (auth: string, id: number, email: string) =>
    m.request('/webhooks/postmark', {
      method: 'POST',
      auth,
      body: JSON.stringify({
        RecordType: 'Bounce',
        Type: 'HardBounce',
        ID: id,
        Email: email,
        MessageID: 'x',
      }),
      headers: { 'content-type': 'application/json' },
    });

  it('suppresses a hard bounce with the right basic auth, and refuses a replay with 409', async () => {
    expect((await post(basic(POSTMARK), 42, 'pm-gone@example.com')).status).toBe(200);
    expect(await suppressionOf('pm-gone@example.com')).toMatchObject({
      reason: 'bounce',
      source: 'webhook:postmark',
    });
    expect((await post(basic(POSTMARK), 42, 'pm-gone@example.com')).status).toBe(409);
  });

  it('refuses the board login (or any other) with 401', async () => {
    expect((await post(basic(OPERATOR), 43, 'pm-forged@example.com')).status).toBe(401);
    expect(await suppressionOf('pm-forged@example.com')).toBeUndefined();
  });
});

describe('one-click unsubscribe and the suppression page', () => {
  it('suppresses the address of a valid token on POST, not on GET', async () => {
    const token = unsubscribeToken(UNSUBSCRIBE_SECRET, 'reader@example.com');
    const page = await m.request(`/unsubscribe?token=${token}`);
    expect(page.status).toBe(200);
    expect(await suppressionOf('reader@example.com')).toBeUndefined();
    const done = await m.request(`/unsubscribe?token=${token}`, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(done.status).toBe(200);
    expect(await suppressionOf('reader@example.com')).toMatchObject({
      reason: 'unsubscribe',
      permanent: true,
    });
  });

  it('refuses a token made with another secret', async () => {
    const token = unsubscribeToken('some-other-secret-123456', 'victim@example.com');
    const response = await m.request(`/unsubscribe?token=${token}`, { method: 'POST' });
    expect(response.status).toBe(400);
    expect(await suppressionOf('victim@example.com')).toBeUndefined();
  });

  it('lets the operator add and remove an address, and the viewer only look', async () => {
    const form = (body: string, auth: string, path = '/suppressions') =>
      m.request(path, {
        method: 'POST',
        auth,
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
    expect((await form('address=page%40example.com&days=3', basic(OPERATOR))).status).toBe(303);
    expect(await suppressionOf('page@example.com')).toMatchObject({
      reason: 'manual',
      source: 'monitor:ops',
    });
    expect((await form('address=viewer%40example.com', basic(VIEWER))).status).toBe(403);
    const asViewer = await m.request('/suppressions', { auth: basic(VIEWER) });
    expect(asViewer.status).toBe(200);
    expect(asViewer.text).toContain('p***@example.com');
    expect(asViewer.text).not.toContain('page@example.com');
    expect(asViewer.text).not.toContain('Remove');
    const asOperator = await m.request('/suppressions', { auth: basic(OPERATOR) });
    expect(asOperator.text).toContain('page@example.com');
    expect((await form('address=page%40example.com', basic(OPERATOR), '/suppressions/remove')).status).toBe(
      303,
    );
    expect(await suppressionOf('page@example.com')).toBeUndefined();
    expect((await m.request('/suppressions')).status).toBe(401);
  });
});
