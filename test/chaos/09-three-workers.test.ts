/**
 * Scenario 9: three worker processes on one set of queues share the work, and each email goes out once.
 */
import { expect, it } from 'vitest';
import { startScenario, expectEachDeliveredOnce } from './harness/scenario.js';

const EMAILS = 600;

it('three worker processes on one queue send each email once, each doing at least 20 % of the work', async () => {
  const s = await startScenario('09-three-workers', { title: 'Three worker processes on one queue' });
  // A server that takes a little time per message keeps every process busy, as real relays do.
  s.smtp.stepDelayMs = 10;
  const workers = await s.startWorkers(3);

  await s.enqueueMix(EMAILS);
  const report = await s.finish();

  const sentBy = workers.map((worker) => worker.logs.filter((line) => line.outcome === 'sent').length);
  const shares = sentBy.map((sent) => Math.round((sent / EMAILS) * 1000) / 10);
  s.record({ extra: { sentByProcess: sentBy, sharePercent: shares } });
  expectEachDeliveredOnce(report, EMAILS);
  for (const share of shares) expect(share).toBeGreaterThanOrEqual(20);
});
