/**
 * Scenario 11: a poison job, one that kills the process running it every time (the crash hook at `before-send`
 * for its id). An orchestrator restarts each crashed process. BullMQ fails the job once it has stalled more than
 * MAX_STALLED_COUNT times, with a reason that says so, and the other emails keep flowing meanwhile: the emails
 * the crashing processes had in flight are picked up by the others. Short lock and stalled check (2 s / 1 s) so
 * that four crashes take seconds.
 */
import { expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { startScenario, type Enqueued, type Scenario } from './harness/scenario.js';
import type { WorkerProcess } from './harness/worker-process.js';

const MAX_STALLED_COUNT = 3;
const EMAILS = 150;

it('a job that crashes its process every time fails after maxStalledCount crashes; the others keep flowing', async () => {
  const s = await startScenario('11-crash-loop', {
    title: 'A job that crashes its process every time',
    env: {
      LOCK_DURATION_MS: '2000',
      STALLED_INTERVAL_MS: '1000',
      MAX_STALLED_COUNT: String(MAX_STALLED_COUNT),
      CHAOS_CRASH_POINT: 'before-send@poison-pill',
    },
  });
  s.smtp.stepDelayMs = 10;
  const supervisor = supervise(s, 2);
  await supervisor.ready;
  const first = await s.enqueueMix(EMAILS / 2, { bookings: false });
  const poison = await s.enqueue('send_welcome_email', { email: 'poison@chaos.example' }, 'poison-pill');
  const rest = await s.enqueueMix(EMAILS / 2, { bookings: false });

  const failed = await waitFor(
    async () => ((await (await s.job(poison))?.getState()) === 'failed' ? s.job(poison) : undefined),
    { timeoutMs: 90_000, intervalMs: 200, what: 'the poison job to fail' },
  ).catch(() => undefined);
  supervisor.stop();
  const report = await s.finish({ settleTimeoutMs: 90_000 });

  const inWindow = new Set(supervisor.inFlightAtCrashes.map((entry) => entry.key));
  const duplicated = [...report.enqueued.values()].filter((e) => (s.smtp.copies.get(e.messageId!) ?? 0) > 1);
  const others = [...first, ...rest];
  s.record({
    extra: {
      crashes: supervisor.crashes,
      poisonFailedReason: failed?.failedReason ?? null,
      inFlightAtCrashes: supervisor.inFlightAtCrashes.length,
      duplicatedKeys: duplicated.map((e) => e.key),
    },
  });

  expect(failed?.failedReason, 'the poison job failed, saying it stalled').toMatch(/stalled/i);
  expect(supervisor.crashes, 'the first run and one per allowed stall').toBe(MAX_STALLED_COUNT + 1);
  expect(
    others.filter((e) => !s.smtp.copies.has(e.messageId!)).map((e) => e.key),
    'other emails not delivered',
  ).toEqual([]);
  expect(report).toMatchObject({ acknowledged: EMAILS + 1, lost: 0, failed: 1 });
  expect(
    duplicated.filter((e) => !inWindow.has(e.key)).map((e) => e.key),
    'duplicates outside the crashed processes',
  ).toEqual([]);
});

interface Supervisor {
  ready: Promise<void>;
  crashes: number;
  /** Emails the crashed processes had in flight (stay active, with their name, until found stalled). */
  inFlightAtCrashes: Enqueued[];
  stop(): void;
}

/** Keeps `count` worker processes running, as an orchestrator would, restarting each that crashes. */
function supervise(s: Scenario, count: number): Supervisor {
  let stopped = false;
  let generation = 0;
  const supervisor: Supervisor = {
    ready: Promise.resolve(),
    crashes: 0,
    inFlightAtCrashes: [],
    stop: () => (stopped = true),
  };
  const run = (slot: number): WorkerProcess => {
    const worker = s.spawnWorker(`slot${slot}-gen${++generation}`, { expectedDeath: true });
    void worker.exited.then(async (exit) => {
      if (exit.signal !== 'SIGKILL') {
        // Only the crash hook may end a process early; a clean exit is checked by finish().
        worker.expectedDeath = false;
        return;
      }
      supervisor.crashes++;
      supervisor.inFlightAtCrashes.push(...(await s.inFlightOn(worker)));
      if (!stopped) run(slot);
    });
    return worker;
  };
  const workers = Array.from({ length: count }, (_, i) => run(i + 1));
  supervisor.ready = Promise.all(workers.map((w) => w.ready())).then(() => undefined);
  return supervisor;
}
