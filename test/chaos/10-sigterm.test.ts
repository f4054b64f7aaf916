/**
 * Scenario 10: deploys. A worker process asked to stop (SIGTERM) in the middle of a burst exits 0 within
 * SHUTDOWN_TIMEOUT_MS + 2 s, and the others finish its work; three processes restarted one after the other
 * under load lose and duplicate nothing.
 */
import { expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { round, startScenario, expectEachDeliveredOnce } from './harness/scenario.js';
import type { WorkerProcess } from './harness/worker-process.js';

const SHUTDOWN_TIMEOUT_MS = 3_000;
const EXIT_LIMIT_MS = SHUTDOWN_TIMEOUT_MS + 2_000;
const BURST = 240;

it('SIGTERM during a burst: exit 0 within SHUTDOWN_TIMEOUT_MS + 2 s; the other worker does the rest', async () => {
  const s = await startScenario('10-sigterm', {
    title: 'SIGTERM during a burst',
    env: { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) },
  });
  // About 300 ms per message: each process has its ten slots busy when the signal comes.
  s.smtp.stepDelayMs = 100;
  const [stopping] = await s.startWorkers(2);
  await s.enqueueMix(BURST);
  await s.waitForDelivered(60);
  const inFlight = await s.inFlightOn(stopping!);
  const exit = await stopping!.terminate();
  const exitMs = exit.at - stopping!.signalledAt!;
  const report = await s.finish({ settleTimeoutMs: 120_000 });
  const complete = stopping!.logs.find((line) => line.msg === 'shutdown complete');
  s.record({
    recoverySeconds: round(exitMs / 1000),
    notes: ['recovery: from SIGTERM to the exit of the stopped process'],
    extra: { inFlightAtSignal: inFlight.length, cutShort: complete?.cutShort ?? null },
  });

  expect(inFlight.length, 'jobs in flight when the signal came').toBeGreaterThan(0);
  expect(exit).toMatchObject({ code: 0, signal: null });
  expect(exitMs).toBeLessThanOrEqual(EXIT_LIMIT_MS);
  expect(complete, "the 'shutdown complete' line with cutShort").toMatchObject({
    cutShort: expect.any(Number),
  });
  expectEachDeliveredOnce(report, BURST);
});

it('a rolling restart of three workers under load: lost 0, duplicates 0, every exit 0 in time', async () => {
  const s = await startScenario('10-rolling-restart', {
    title: 'Rolling restart of three workers under load',
    env: { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) },
  });
  s.smtp.stepDelayMs = 20;
  const original = await s.startWorkers(3);
  const producer = s.produce({ total: 600, perSecond: 60 });
  const exitMs: number[] = [];
  for (const [i, worker] of original.entries()) {
    await waitFor(() => producer.acknowledged >= 150 * (i + 1), { timeoutMs: 60_000, what: 'load' });
    exitMs.push(await stopAndTime(worker));
    await s.startWorkers(1);
  }
  await producer.done;
  const report = await s.finish({ settleTimeoutMs: 120_000 });
  s.record({
    recoverySeconds: round(Math.max(...exitMs) / 1000),
    notes: ['recovery: the longest time from SIGTERM to exit among the three restarts'],
    extra: { exitSeconds: exitMs.map((ms) => round(ms / 1000)) },
  });

  for (const worker of original) expect(worker.exitInfo).toMatchObject({ code: 0, signal: null });
  for (const ms of exitMs) expect(ms).toBeLessThanOrEqual(EXIT_LIMIT_MS);
  expectEachDeliveredOnce(report, 600);
});

async function stopAndTime(worker: WorkerProcess): Promise<number> {
  const exit = await worker.terminate();
  return exit.at - worker.signalledAt!;
}
