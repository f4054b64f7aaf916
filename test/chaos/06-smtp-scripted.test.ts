/**
 * Scenario 6: a relay that refuses part of the traffic for a while: a 421 to every second transaction, and a
 * 454 throttle for 5 s. Both are about the server's state, not about any one email, so every email is delivered
 * once and none fails.
 */
import { expect, it } from 'vitest';
import { everySecondTransaction, throttleUntil } from './harness/chaos-smtp.js';
import { startScenario } from './harness/scenario.js';

const EMAILS = 200;
// An email refused by chance again and again waits RETRY_DELAY doubling per run (uncharged, but backed off): with
// the production 2 s up to 600 s, the unluckiest of 200 would take minutes. The promise does not depend on it.
const FAST_RETRIES = { RETRY_DELAY: '250ms', RETRY_DELAY_MAX: '2s' };

it('421 on every second transaction: all delivered once, none failed', async () => {
  const s = await startScenario('06-smtp-421', {
    title: '421 on every second SMTP transaction',
    env: FAST_RETRIES,
  });
  s.smtp.script = everySecondTransaction({
    code: 421,
    message: '4.4.2 Service not available, closing channel',
  });
  await s.startWorkers(2);
  await s.enqueueMix(EMAILS);
  const report = await s.finish({ settleTimeoutMs: 180_000 });
  s.record({
    extra: { transactions: s.smtp.transactions.length, refused: countRejected(s.smtp.transactions) },
  });

  expect(report).toMatchObject({
    acknowledged: EMAILS,
    delivered: EMAILS,
    lost: 0,
    duplicates: 0,
    failed: 0,
  });
});

it('a 454 throttle for 5 s: all delivered once, none failed', async () => {
  const s = await startScenario('06-smtp-454', { title: '454 throttle for 5 s', env: FAST_RETRIES });
  await s.startWorkers(2);
  s.smtp.script = throttleUntil(Date.now() + 5_000, {
    code: 454,
    message: '4.7.0 Throttled: try again later',
  });
  await s.enqueueMix(EMAILS);
  const report = await s.finish({ settleTimeoutMs: 180_000 });
  s.record({
    extra: { transactions: s.smtp.transactions.length, refused: countRejected(s.smtp.transactions) },
  });

  expect(report).toMatchObject({
    acknowledged: EMAILS,
    delivered: EMAILS,
    lost: 0,
    duplicates: 0,
    failed: 0,
  });
});

function countRejected(transactions: Array<{ outcome: string }>): number {
  return transactions.filter((tx) => tx.outcome === 'rejected').length;
}
