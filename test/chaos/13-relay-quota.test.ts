/**
 * Scenario 13: a burst from three replicas under the relay's quota. EMAIL_RATE_LIMIT is one bucket in Redis for
 * the whole service, so three processes handed 400 emails at once send them at the quota's pace together, each
 * exactly once, and none fails for being held back.
 */
import { expect, it } from 'vitest';
import { expectEachDeliveredOnce, round, startScenario } from './harness/scenario.js';

const EMAILS = 400;
const RATE = 20;

it(`three replicas handed ${EMAILS} emails at once send them at ${RATE}/s together, each once`, async () => {
  const s = await startScenario('13-relay-quota', {
    title: 'The relay quota under a burst from three replicas',
    env: { EMAIL_RATE_LIMIT: String(RATE) },
  });
  await s.startWorkers(3);

  await s.enqueueMix(EMAILS);
  const report = await s.finish({ settleTimeoutMs: 120_000 });

  const times = s.smtp.deliveries.map((delivery) => delivery.at).sort((a, b) => a - b);
  // The bucket starts full (one second's worth): the pace is measured after it.
  const paced = times.slice(RATE);
  const perSecond = (paced.length - 1) / ((paced.at(-1)! - paced[0]!) / 1000);
  s.record({ extra: { perSecond: round(perSecond), quota: RATE } });
  expectEachDeliveredOnce(report, EMAILS);
  expect(perSecond).toBeLessThanOrEqual(RATE * 1.1);
  expect(perSecond).toBeGreaterThanOrEqual(RATE * 0.9);
});
