/**
 * Scenario 6: a relay that refuses part of the traffic for a while: a 421 to every second transaction, and a
 * 454 throttle for 5 s. Both are about the server's state, not about any one email, so every email is delivered
 * once and none fails.
 */
import { expect, it } from 'vitest';
import { everySecondTransaction, throttleUntil, type Script } from './harness/chaos-smtp.js';
import { expectEachDeliveredOnce, startScenario } from './harness/scenario.js';

const EMAILS = 200;
// An email refused by chance again and again waits RETRY_DELAY doubling per run (uncharged, but backed off): with
// the production 2 s up to 600 s, the unluckiest of 200 would take minutes. The promise does not depend on it.
const FAST_RETRIES = { RETRY_DELAY: '250ms', RETRY_DELAY_MAX: '2s' };

it('421 on every second transaction: all delivered once, none failed', async () => {
  await refusingRelay('06-smtp-421', '421 on every second SMTP transaction', () =>
    everySecondTransaction({ code: 421, message: '4.4.2 Service not available, closing channel' }),
  );
});

it('a 454 throttle for 5 s: all delivered once, none failed', async () => {
  await refusingRelay('06-smtp-454', '454 throttle for 5 s', () =>
    throttleUntil(Date.now() + 5_000, { code: 454, message: '4.7.0 Throttled: try again later' }),
  );
});

/** `script` is made once the workers run, right before the emails are enqueued. */
async function refusingRelay(id: string, title: string, script: () => Script): Promise<void> {
  const s = await startScenario(id, { title, env: FAST_RETRIES });
  await s.startWorkers(2);
  s.smtp.script = script();
  await s.enqueueMix(EMAILS);
  const report = await s.finish({ settleTimeoutMs: 180_000 });
  const refused = s.smtp.transactions.filter((tx) => tx.outcome === 'rejected').length;
  const charged = [...(await s.attemptsUsed()).values()].reduce((sum, n) => sum + n, 0);
  s.record({ extra: { transactions: s.smtp.transactions.length, refused, attemptsCharged: charged } });

  expectEachDeliveredOnce(report, EMAILS);
  // A relay closing the channel or throttling us is not a failure of any one email (issue 8: a 4xx about our
  // connection or account never uses up attempts): with fast retries a charged throttle would dead-letter.
  expect(charged, 'attempts charged for the relay refusing everyone alike').toBe(0);
}
