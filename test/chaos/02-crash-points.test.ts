/**
 * Scenario 2: a worker process killed (by the test-only crash hook, `CHAOS_CRASH_POINT`) at each step of one
 * email's delivery, and another process finishing the job. The number of copies the SMTP server accepts shows
 * where the window is: none before the end of DATA, one extra right after the 250 (the ledger did not hear of
 * it: the one copy-too-many the README documents, carrying the same Message-ID), none once the ledger says sent.
 * Lock and stalled check are short here (2 s / 1 s) so that recovery takes seconds instead of the defaults' ~15.
 */
import { expect, it } from 'vitest';
import type { Enqueued, Report, Scenario } from './harness/scenario.js';
import { secondsBetween, startScenario } from './harness/scenario.js';

const SHORT_LOCKS = { LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000' };

interface CrashRun {
  s: Scenario;
  report: Report;
  target: Enqueued;
  copies: number;
}

/** One process with the crash hook for the target email; once it died, a clean one takes over. */
async function crashAt(point: string): Promise<CrashRun> {
  const s = await startScenario(`02-crash-${point}`, {
    title: `crash at ${point}`,
    env: SHORT_LOCKS,
  });
  // `before-data-end` needs a message long enough to be cut in the middle; every message is, at ~20 KB.
  const victim = s.spawnWorker('crashing', {
    env: { CHAOS_CRASH_POINT: `${point}@crash-target` },
    expectedDeath: true,
  });
  await victim.ready();
  const target = await s.enqueue('send_welcome_email', { email: 'target@chaos.example' }, 'crash-target');
  const exit = await Promise.race([
    victim.exited,
    new Promise<undefined>((resolve) => setTimeout(resolve, 30_000, undefined)),
  ]);
  expect(exit?.signal, `the process kills itself at ${point} (CHAOS_CRASH_POINT)`).toBe('SIGKILL');

  await s.startWorkers(1);
  await s.enqueueMix(10);
  const report = await s.finish({ settleTimeoutMs: 120_000 });
  const finishedAt = await s.lastFinishedAt([target]);
  s.record({
    recoverySeconds: finishedAt === undefined ? null : secondsBetween(exit!.at, finishedAt),
    notes: ['recovery: from the crash to the completion of the crashed email by the other process'],
    extra: {
      copiesOfTarget: s.smtp.copies.get(target.messageId!) ?? 0,
      transactionsOfTarget: s.smtp.transactions
        .filter((tx) => tx.messageId === target.messageId)
        .map((tx) => `${tx.outcome}${tx.complete ? '' : ' (partial)'}`),
    },
  });
  return { s, report, target, copies: s.smtp.copies.get(target.messageId!) ?? 0 };
}

it('a crash before the end of DATA: the email is delivered once', async () => {
  const { s, report, target, copies } = await crashAt('before-data-end');
  const targetTransactions = s.smtp.transactions.filter((tx) => tx.messageId === target.messageId);
  expect(targetTransactions[0], 'the first copy was cut off in the middle of DATA').toMatchObject({
    complete: false,
    outcome: 'dropped',
  });
  expect(copies).toBe(1);
  expect(report).toMatchObject({ lost: 0, failed: 0, duplicates: 0 });
});

it('a crash right after the 250: exactly two copies, with the same Message-ID', async () => {
  const { s, report, target, copies } = await crashAt('after-250');
  expect(copies).toBe(2);
  const deliveries = s.smtp.deliveries.filter((d) => d.messageId === target.messageId);
  expect(new Set(deliveries.map((d) => d.rcptTo.join(','))).size, 'both copies to the same recipient').toBe(
    1,
  );
  expect(report).toMatchObject({ lost: 0, failed: 0, duplicates: 1 });
});

it('a crash right after the ledger says sent: one message, and the job completes as a duplicate', async () => {
  const { s, report, target, copies } = await crashAt('after-sent-record');
  expect(copies).toBe(1);
  const job = await s.job(target);
  expect(job?.returnvalue).toMatchObject({ duplicate: true, message_id: target.messageId });
  expect(report).toMatchObject({ lost: 0, failed: 0, duplicates: 0 });
});
