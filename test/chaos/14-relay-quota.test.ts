/**
 * Scenario 14: a burst from three replicas under the relay's quota. EMAIL_RATE_LIMIT is one bucket in Redis for
 * the whole service, so three processes handed 400 emails at once send them no faster than the quota together,
 * each exactly once, and none fails for being held back.
 */
import { expect, it } from 'vitest';
import { expectEachDeliveredOnce, round, startScenario } from './harness/scenario.js';

const EMAILS = 400;
const RATE = 20;

it(`three replicas handed ${EMAILS} emails at once send them no faster than ${RATE}/s together, each once`, async () => {
  const s = await startScenario('14-relay-quota', {
    title: 'The relay quota under a burst from three replicas',
    env: { EMAIL_RATE_LIMIT: String(RATE) },
  });
  await s.startWorkers(3);

  const enqueuedAt = Date.now();
  await s.enqueueMix(EMAILS);
  const report = await s.finish({ settleTimeoutMs: 120_000 });

  const times = s.smtp.deliveries.map((delivery) => delivery.at).sort((a, b) => a - b);
  // Tokens cannot come faster than the quota, whatever the pipeline behind them does: beyond the bucket's first
  // second's worth, the emails need (EMAILS - RATE) / RATE seconds from their enqueue to the last delivery. (A
  // loaded machine may take longer; the pace itself is measured by test/integration/send-quota.test.ts.)
  const perSecond = (EMAILS - RATE) / ((times.at(-1)! - enqueuedAt) / 1000);
  s.record({ extra: { perSecond: round(perSecond), quota: RATE } });
  expectEachDeliveredOnce(report, EMAILS);
  expect(perSecond).toBeLessThanOrEqual(RATE * 1.1);
});
