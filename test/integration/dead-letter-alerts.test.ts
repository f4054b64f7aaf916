/**
 * Dead-letter alerts: a thousand failures in a minute make one batched alert, POSTed to the webhook as
 * Slack-compatible JSON; a webhook that fails is retried.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { waitFor } from '../helpers/wait.js';
import { startTestWorkers, type TestWorkers } from '../helpers/workers.js';

let hook: WebhookReceiver;
let w: TestWorkers;

beforeAll(async () => {
  hook = await startWebhookReceiver();
  w = await startTestWorkers('dead-letter-alerts', {
    LEDGER_ENABLED: 'false',
    ALERT_WEBHOOK_URL: hook.url,
    // Long enough for a thousand failures on a loaded machine to fall in one batch.
    ALERT_BATCH_WINDOW_MS: '30000',
  });
});

afterAll(async () => {
  await w?.stop();
  await hook?.close();
});

it('makes one batched alert of 1,000 failures, retried when the webhook fails', async () => {
  // The receiver is down for the first POST: the alert comes again.
  hook.status = (n) => (n === 1 ? 503 : 200);
  // An invalid payload fails at once without retry: a thousand dead letters within seconds.
  await w.queue('booking_emails').addBulk(
    Array.from({ length: 1000 }, (_, i) => ({
      name: 'send_booking_confirmation',
      data: { email: `guest-${i}@example.com`, booking_data: { quantity: 0 } },
    })),
  );
  await waitFor(() => hook.posts.some((post) => post.status === 200), {
    timeoutMs: 90_000,
    what: 'a delivered alert',
  });
  expect(hook.posts.map((post) => post.status)).toEqual([503, 200]);
  const alert = hook.posts[1]!.body;
  expect(alert).toEqual(hook.posts[0]!.body);
  expect(alert.dead_letters).toBe(1000);
  expect(alert.counts).toEqual([{ task: 'send_booking_confirmation', code: 'INVALID_PAYLOAD', count: 1000 }]);
  expect(alert.text).toMatch(/^1000 dead letters in 30 s/);
  expect(alert.text).toContain('send_booking_confirmation — INVALID_PAYLOAD: 1000');
  expect(alert.examples).toHaveLength(10);
  expect(alert.examples).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        task: 'send_booking_confirmation',
        recipient: expect.stringMatching(/^g\*\*\*@example\.com$/),
        error: expect.stringMatching(/^invalid payload for send_booking_confirmation/),
      }),
    ]),
  );
  expect(JSON.stringify(hook.posts)).not.toMatch(/guest-\d+@/);
  // One fatal line per letter, each from one replica.
  expect(
    w.logs.filter((line) => line.level === 60 && line.msg === 'dead letter: job failed for good'),
  ).toHaveLength(1000);
}, 120_000);
