/**
 * Scenario 5: an SMTP server that takes a whole message and never answers. With one pooled connection and a
 * 3 s time limit per attempt, the hung transaction must not hold the pool past the limit, no message may reach
 * the server from an attempt that has already given up (the defect where a message waiting for a pooled
 * connection went out after its attempt's timeout, and the retry sent a second copy), and every copy that
 * might have been kept by the server beyond the first must be reported: logged as uncertain, or failed as
 * `delivery state unknown` for a task that waits for a person.
 */
import { expect, it } from 'vitest';
import type { Transaction } from './harness/chaos-smtp.js';
import { round, startScenario } from './harness/scenario.js';
import type { LogLine } from './harness/worker-process.js';

const JOB_TIMEOUT_MS = 3_000;
const SLOT_SLACK_MS = 2_000;

it('an SMTP server that hangs after DATA: slot freed at the time limit, nothing sent after giving up', async () => {
  const s = await startScenario('05-smtp-hang', {
    title: 'SMTP server hangs after DATA',
    env: { JOB_TIMEOUT_MS: String(JOB_TIMEOUT_MS), SMTP_POOL_SIZE: '1', WORKER_CONCURRENCY: '4' },
  });
  await s.startWorkers(1);
  const hangOnce = new Set<string>();
  const welcome = await s.enqueue(
    'send_welcome_email',
    { email: 'hung-welcome@chaos.example' },
    'hung-welcome',
  );
  const booking = await s.enqueue(
    'send_booking_confirmation',
    { user_id: 7, booking_data: { event_name: 'Chaos Conf', booking_id: 'BK-HUNG' } },
    'hung-booking',
  );
  // The first transaction of each of the two is held forever; everything else is accepted.
  s.smtp.script = (tx) => {
    const hang =
      (tx.messageId === welcome.messageId || tx.messageId === booking.messageId) &&
      !hangOnce.has(tx.messageId!);
    if (hang) hangOnce.add(tx.messageId!);
    return hang ? 'hang' : undefined;
  };
  await s.enqueueMix(20, { bookings: false });
  const report = await s.finish({ settleTimeoutMs: 150_000 });

  // Each hung transaction's connection is closed by the client within the limit (plus slack).
  const hung = s.smtp.transactions.filter((tx) => tx.complete && tx.outcome === 'dropped');
  const heldMs = hung.map((tx) => (s.smtp.closedSessions.get(tx.session) ?? Infinity) - tx.at);

  // Every transaction happened during an attempt of its job: an attempt's interval is [time − durationMs, time]
  // of its outcome line; a transaction outside every interval came from an attempt that had given up.
  const attempts = new Map<string, Array<[number, number]>>();
  for (const line of s.logs()) {
    if (typeof line.jobId !== 'string' || typeof line.durationMs !== 'number' || !line.outcome) continue;
    attempts.set(line.jobId, [...(attempts.get(line.jobId) ?? []), interval(line)]);
  }
  const byMessageId = new Map([...report.enqueued.values()].map((e) => [e.messageId, e]));
  const strays = s.smtp.transactions.filter((tx) => {
    const entry = byMessageId.get(tx.messageId);
    const spans = entry ? (attempts.get(entry.jobId) ?? []) : [];
    return !spans.some(([start, end]) => tx.at >= start - 50 && tx.at <= end + 50);
  });

  // Copies the server may have kept (accepted, or taken whole and left unanswered), per email.
  const keptCopies = new Map<string, Transaction[]>();
  for (const tx of s.smtp.transactions) {
    if (!tx.messageId || !tx.complete || (tx.outcome !== 'accepted' && tx.outcome !== 'dropped')) continue;
    keptCopies.set(tx.messageId, [...(keptCopies.get(tx.messageId) ?? []), tx]);
  }
  const unreported: string[] = [];
  for (const [messageId, copies] of keptCopies) {
    if (copies.length < 2) continue;
    const entry = byMessageId.get(messageId)!;
    const job = await s.job(entry);
    const loggedUncertain = s
      .logs()
      .some(
        (line) =>
          line.jobId === entry.jobId && line.level >= 40 && /uncertain|unknown/i.test(String(line.msg)),
      );
    if (!loggedUncertain && !/unknown|uncertain/i.test(job?.failedReason ?? '')) unreported.push(entry.key);
  }
  s.record({
    recoverySeconds: heldMs.length ? round(Math.max(...heldMs) / 1000) : null,
    notes: ['recovery: longest time a hung transaction held the pooled connection'],
    extra: {
      hungTransactions: hung.length,
      strayTransactions: strays.map(
        (tx) => `${byMessageId.get(tx.messageId)?.key ?? tx.messageId} at #${tx.n}`,
      ),
      uncertainCopies: [...keptCopies.values()].filter((c) => c.length > 1).length,
      unreportedUncertainCopies: unreported,
      bookingOutcome: (await s.job(booking))?.failedReason ?? 'delivered',
    },
  });

  expect(hung.length, 'transactions held without an answer').toBe(2);
  for (const ms of heldMs) expect(ms).toBeLessThanOrEqual(JOB_TIMEOUT_MS + SLOT_SLACK_MS);
  expect(
    strays.map((tx) => tx.n),
    'transactions from attempts that had given up',
  ).toEqual([]);
  expect(unreported, 'copies possibly kept twice without a report').toEqual([]);
  expect(report).toMatchObject({ acknowledged: 22, lost: 0, duplicates: 0 });
  // The booking waits for a person (mark_unknown); the welcome email is sent again, reported as uncertain.
  expect(Object.keys(report.failedReasons).every((reason) => /unknown/i.test(reason))).toBe(true);
});

function interval(line: LogLine): [number, number] {
  return [line.time - Number(line.durationMs), line.time];
}
