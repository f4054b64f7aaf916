/**
 * Scenario 4: the SMTP server is down (port closed, connections dropped) for 60 s, four times the default retry
 * budget (2 s doubling, 3 retries: 14 s at most). An outage of the relay is not a failure of any one email: no
 * email may use up an attempt on it, the SMTP breaker opens once and closes once, and every email is delivered
 * once the server is back.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { secondsBetween, startScenario } from './harness/scenario.js';

const OUTAGE_MS = 60_000;
const BEFORE = 50;
const DURING = 100;

it('SMTP down for 60 s: no attempts used up, all delivered once afterwards, the breaker opened and closed once', async () => {
  const s = await startScenario('04-smtp-down', {
    title: 'SMTP server down for 60 s',
    env: { BREAKER_PROBE_INTERVAL: '2s' },
  });
  const [worker] = await s.startWorkers(1);
  await s.enqueueMix(BEFORE);
  await s.waitForDelivered(BEFORE);

  await s.smtp.stop();
  const downAt = Date.now();
  await s.enqueueMix(DURING);
  const opened = await worker!
    .waitForLog(
      (line) => line.breaker === 'smtp' && line.state === 'open',
      'the SMTP breaker to open',
      OUTAGE_MS,
    )
    .catch(() => undefined);
  await sleep(downAt + OUTAGE_MS - Date.now());
  await s.smtp.start();
  const upAt = Date.now();
  await s.waitForDelivered(BEFORE + DURING, 60_000).catch(() => undefined);
  const lastDelivery = Math.max(...s.smtp.deliveries.map((d) => d.at));
  const report = await s.finish({ settleTimeoutMs: 60_000 });

  const used = await s.attemptsUsed();
  const charged = [...used.entries()].filter(([, n]) => n > 0);
  const changes = s.breakerChanges(worker!, 'smtp');
  const cycles = s.breakerCycles(worker!, 'smtp');
  s.record({
    recoverySeconds: secondsBetween(upAt, lastDelivery),
    notes: ['recovery: from the server listening again to the last delivery'],
    extra: {
      breakerOpenedAfterSeconds: opened ? secondsBetween(downAt, opened.time) : null,
      breakerLines: changes.length,
      breakerCycles: cycles,
      emailsCharged: charged.length,
      attemptsCharged: charged.reduce((sum, [, n]) => sum + n, 0),
    },
  });

  expect(report).toMatchObject({
    acknowledged: BEFORE + DURING,
    delivered: BEFORE + DURING,
    lost: 0,
    failed: 0,
  });
  expect(report.duplicates).toBe(0);
  expect(
    charged.map(([key]) => key),
    'emails charged an attempt for the outage',
  ).toEqual([]);
  expect(cycles, 'times the SMTP breaker opened (from closed) and closed again').toEqual({
    opened: 1,
    closed: 1,
  });
  expect(changes.at(-1)).toBe('closed');
});
