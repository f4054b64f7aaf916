/**
 * Scenario 1: `kill -9` of one of two worker processes in the middle of 1,000 emails. With the default lock and
 * stalled-check settings (no shortcuts here: the promise is about the defaults), every email the killed process
 * had in flight is delivered by the other within 20 s; nothing is lost, and a second copy is possible only for
 * an email that was inside the SMTP window at the kill.
 */
import { expect, it } from 'vitest';
import { secondsBetween, startScenario } from './harness/scenario.js';

const EMAILS = 1_000;
const RECOVERY_LIMIT_S = 20;

it('kill -9 of one of two workers during 1,000 emails: lost 0, in-flight emails delivered within 20 s', async () => {
  const s = await startScenario('01-kill-worker', {
    title: 'kill -9 of one of two workers during 1,000 emails',
  });
  // A few milliseconds per SMTP step keep about twenty emails in flight per process, as a real relay does.
  s.smtp.stepDelayMs = 5;
  const [victim] = await s.startWorkers(2);

  await s.enqueueMix(EMAILS, { bookings: false });
  await s.waitForDelivered(EMAILS * 0.3);
  const killedAt = Date.now();
  await victim!.kill();
  // The killed process's jobs stay active in Redis (still marked with its name) until they are found stalled.
  const inFlight = await s.inFlightOn(victim!);

  const report = await s.finish({ settleTimeoutMs: 150_000 });
  const lastFinishedAt = await s.lastFinishedAt(inFlight);
  const recoverySeconds = lastFinishedAt === undefined ? null : secondsBetween(killedAt, lastFinishedAt);
  const inWindow = new Set(inFlight.map((entry) => entry.key));
  const duplicated = [...report.enqueued.values()].filter(
    (entry) => (s.smtp.copies.get(entry.messageId!) ?? 0) > 1,
  );
  s.record({
    recoverySeconds,
    extra: {
      inFlightAtKill: inFlight.length,
      duplicatedKeys: duplicated.map((entry) => entry.key),
      deliveredAtKill: EMAILS * 0.3,
    },
    notes: ['recovery: from the kill to the completion of the last job the killed process had in flight'],
  });

  expect(inFlight.length, 'emails in flight on the killed process').toBeGreaterThan(0);
  expect(report).toMatchObject({ acknowledged: EMAILS, lost: 0, failed: 0 });
  expect(
    duplicated.filter((entry) => !inWindow.has(entry.key)).map((entry) => entry.key),
    'duplicates outside the window at the kill',
  ).toEqual([]);
  expect(recoverySeconds, 'seconds from the kill to the last in-flight email').not.toBeNull();
  expect(recoverySeconds!).toBeLessThanOrEqual(RECOVERY_LIMIT_S);
});
