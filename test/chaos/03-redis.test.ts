/**
 * Scenario 3: Redis goes away under load. Redis runs with an append-only file fsynced every second (as in
 * production), so a `SHUTDOWN` (which writes the file out) loses nothing and a `kill -9` can lose at most the
 * last second of writes. Producers enqueue through the client and, as the README advises, retry a refused
 * enqueue with the same idempotency key; workers must reconnect by themselves.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { secondsBetween, startScenario } from './harness/scenario.js';

const EMAILS = 600;
const RESUME_LIMIT_S = 10;

it('Redis SHUTDOWN and restart mid-run: lost 0, duplicates 0, workers resume within 10 s without a restart', async () => {
  const s = await startScenario('03-redis-shutdown', { title: 'Redis SHUTDOWN and restart mid-run' });
  s.smtp.stepDelayMs = 5;
  const workers = await s.startWorkers(2);
  const producer = s.produce({ total: EMAILS, perSecond: 80 });
  await s.waitForProgress(producer, { enqueued: EMAILS / 3, delivered: 50 });

  const downAt = Date.now();
  await s.redis.shutdown();
  await sleep(3_000);
  await s.redis.start();
  const upAt = Date.now();
  await producer.done;
  const report = await s.finish({ settleTimeoutMs: 120_000 });

  // Resumed: the first email enqueued after the restart that the SMTP server accepted.
  const afterRestart = new Set(
    [...report.enqueued.values()].filter((e) => e.ackAt >= upAt).map((e) => e.messageId),
  );
  const firstAfter = s.smtp.deliveries.find((d) => afterRestart.has(d.messageId));
  const resumeSeconds = firstAfter ? secondsBetween(upAt, firstAfter.at) : null;
  s.record({
    recoverySeconds: resumeSeconds,
    notes: ['recovery: from Redis answering again to the first delivery of an email enqueued after it'],
    extra: { outageSeconds: secondsBetween(downAt, upAt), refusedEnqueues: producer.refusals },
  });

  expect(report).toMatchObject({ acknowledged: EMAILS, lost: 0, duplicates: 0, failed: 0 });
  expect(resumeSeconds).not.toBeNull();
  expect(resumeSeconds!).toBeLessThanOrEqual(RESUME_LIMIT_S);
  // The same processes all along: none restarted, each stopped cleanly at the end (checked by finish()).
  expect(workers.map((w) => w.exitInfo?.code)).toEqual([0, 0]);
  expect(s.workers).toHaveLength(2);
});

it('kill -9 of Redis mid-run: only enqueues acknowledged in the last second before the kill may be lost', async () => {
  const s = await startScenario('03-redis-kill', { title: 'kill -9 of Redis mid-run (AOF everysec)' });
  s.smtp.stepDelayMs = 5;
  await s.startWorkers(2);
  const producer = s.produce({ total: EMAILS, perSecond: 80 });
  await s.waitForProgress(producer, { enqueued: EMAILS / 3, delivered: 50 });

  const killedAt = Date.now();
  await s.redis.stop();
  await sleep(2_000);
  await s.redis.start();
  await producer.done;
  const report = await s.finish({ settleTimeoutMs: 120_000 });

  const lost = [...report.enqueued.values()].filter((e) => !s.smtp.copies.has(e.messageId!));
  const ageAtKill = lost.map((e) => secondsBetween(e.ackAt, killedAt));
  s.record({
    extra: { lostAckedSecondsBeforeKill: ageAtKill, refusedEnqueues: producer.refusals },
    notes: ['lost: acknowledged enqueues the restarted Redis no longer had (AOF fsync window)'],
  });

  expect(report).toMatchObject({ acknowledged: EMAILS, duplicates: 0, failed: 0 });
  expect(
    ageAtKill.filter((seconds) => seconds > 1),
    'lost enqueues acknowledged more than 1 s before the kill',
  ).toEqual([]);
});
