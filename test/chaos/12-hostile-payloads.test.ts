/**
 * Scenario 12: hostile payloads generated with fast-check (a fixed seed, printed; CHAOS_SEED changes it), through
 * the typed client and through a plain `queue.add` that skips the client's validation. Whatever arrives, the
 * workers do not crash; every payload the contract refuses is refused naming the field (by the client before
 * enqueue, by the worker as the failed reason); and nothing delivered carries a header the payload injected,
 * goes to anyone but its one recipient, or carries the payload's markup unescaped.
 */
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { expect, it } from 'vitest';
import { InvalidPayloadError } from '../../src/errors.js';
import {
  describeCase,
  hostileCase,
  HOSTILE_TASKS,
  MARKUP,
  refusalProblems,
  type HostileCase,
} from './harness/hostile-payloads.js';
import { startScenario, type Enqueued, type Report, type Scenario } from './harness/scenario.js';
import { findTask } from '../../src/tasks/registry.js';

const SEED = Number(process.env.CHAOS_SEED ?? 20_261_202);
const RUNS = 500;
const RECIPIENT = 'hostile@chaos.example';
// Every case goes to one address: the per-recipient limit (5 OTPs in 10 minutes, README Deliverability) would
// refuse most of them for a reason that is not the payload's, and is tested on its own.
const NO_RECIPIENT_LIMITS = { RECIPIENT_LIMITS: 'none' };

it('hostile payloads through the client: refused naming the field, or delivered with nothing injected', async () => {
  console.log(`scenario 12 (client): fast-check seed ${SEED}, ${RUNS} runs`);
  const s = await startScenario('12-hostile-client', {
    title: `Hostile payloads through the client (fast-check, seed ${SEED}, ${RUNS} runs)`,
    smtp: { keepRaw: true },
  });
  await s.startWorkers(1, NO_RECIPIENT_LIMITS);
  const allowed = await baselineHeaders(s);
  const accepted = new Map<string, HostileCase>();
  let runs = 0;
  // fc.check, not fc.assert: the run goes on to the delivery checks and the figures even when a case fails.
  const details = await fc.check(
    fc.asyncProperty(hostileCase(), async (c) => {
      const key = `hostile-${++runs}`;
      try {
        const entry = await s.enqueue(c.task, c.payload as never, key);
        accepted.set(entry.key, c);
      } catch (error) {
        expect(error, describeCase(c)).toBeInstanceOf(InvalidPayloadError);
        const fields = (error as InvalidPayloadError).problems.map((p) => p.field);
        expect(refusalProblems(c, fields), describeCase(c)).toEqual([]);
        return;
      }
      expect(c.mustRefuse, `accepted although it must be refused: ${describeCase(c)}`).toBe(false);
    }),
    { seed: SEED, numRuns: RUNS },
  );
  const report = await s.finish({ settleTimeoutMs: 120_000 });
  const injected = await deliveryProblems(s, report, allowed);
  s.record({
    extra: {
      seed: SEED,
      runs,
      accepted: accepted.size,
      refusedByClient: runs - accepted.size,
      counterexample: details.failed ? String(details.errorInstance).slice(0, 500) : null,
      injected,
    },
  });

  expect(details.failed, fc.defaultReportMessage(details) ?? '').toBe(false);
  expect(injected).toEqual([]);
  expect(report).toMatchObject({ lost: 0, failed: 0, duplicates: 0, delivered: accepted.size + 1 });
});

it('hostile payloads through raw queue.add: the worker refuses each naming the field, never crashes', async () => {
  console.log(`scenario 12 (raw queue.add): fast-check seed ${SEED}, ${RUNS} runs`);
  const s = await startScenario('12-hostile-raw', {
    title: `Hostile payloads through raw queue.add (fast-check, seed ${SEED}, ${RUNS} runs)`,
    smtp: { keepRaw: true },
  });
  await s.startWorkers(1, NO_RECIPIENT_LIMITS);
  const allowed = await baselineHeaders(s);
  const cases = new Map<string, HostileCase>();
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.oneof({ weight: 9, arbitrary: hostileCase() }, { weight: 1, arbitrary: notAnObject() }),
      async (c) => {
        const entry = await s.addRaw(findTask(c.task)!.queue, c.task, c.payload, `hostile-raw-${++runs}`);
        cases.set(entry.key, c);
      },
    ),
    { seed: SEED, numRuns: RUNS },
  );
  const report = await s.finish({ settleTimeoutMs: 120_000 });

  const wrong: string[] = [];
  let refused = 0;
  for (const [key, c] of cases) {
    const entry = report.enqueued.get(key)!;
    if (s.smtp.copies.has(entry.messageId!)) {
      if (c.mustRefuse) wrong.push(`delivered although it must be refused: ${describeCase(c)}`);
      continue;
    }
    const job = await s.job(entry);
    const reason = job?.failedReason ?? '';
    const prefix = `invalid payload for ${c.task}: `;
    if (!reason.startsWith(prefix)) {
      wrong.push(`${describeCase(c)}: ${reason || (await job?.getState())}`);
      continue;
    }
    refused++;
    const fields = [...reason.slice(prefix.length).matchAll(/(?:^|; )([\w.]*|\(payload\)): /g)].map((m) =>
      m[1] === '(payload)' ? '' : m[1]!,
    );
    for (const problem of refusalProblems(c, fields))
      wrong.push(`${describeCase(c)}: ${problem} (${reason})`);
  }
  const injected = await deliveryProblems(s, report, allowed);
  s.record({
    extra: { seed: SEED, runs, refusedByWorker: refused, wrongOutcomes: wrong.slice(0, 20), injected },
  });

  expect(wrong).toEqual([]);
  expect(injected).toEqual([]);
  expect(report).toMatchObject({ lost: 0, duplicates: 0 });
  // One process all along, and it stopped cleanly (finish() checks its exit code).
  expect(s.workers).toHaveLength(1);
});

/** Payloads that are not objects at all: a string, a number, a list, null. */
function notAnObject(): fc.Arbitrary<HostileCase> {
  return fc
    .tuple(fc.constantFrom(...HOSTILE_TASKS), fc.constantFrom<unknown>('x', 42, [1, 2], null, true))
    .map(([task, payload]) => ({
      task,
      payload: payload as Record<string, unknown>,
      mutations: [
        { path: '', kind: `${JSON.stringify(payload)} as the payload`, verdict: 'refuse' as const },
      ],
      mustRefuse: true,
    }));
}

/** Sends one clean email and returns its header names: any other name in a delivered message was injected. */
async function baselineHeaders(s: Scenario): Promise<Set<string>> {
  await s.enqueue(
    'send_welcome_email',
    { email: RECIPIENT, user_data: { username: 'ada', full_name: 'Ada Lovelace' } },
    'baseline',
  );
  await s.waitForDelivered(1);
  return new Set(s.smtp.deliveries[0]!.headers.map((h) => h.name.toLowerCase()));
}

/** Every delivered message: the baseline's headers, each once; one recipient; no markup of ours unescaped. */
async function deliveryProblems(s: Scenario, report: Report, allowed: Set<string>): Promise<string[]> {
  const byMessageId = new Map<string, Enqueued>([...report.enqueued.values()].map((e) => [e.messageId!, e]));
  const problems: string[] = [];
  for (const delivery of s.smtp.deliveries) {
    const key = byMessageId.get(delivery.messageId)?.key ?? delivery.messageId;
    const names = delivery.headers.map((h) => h.name.toLowerCase());
    const extra = names.filter((name) => !allowed.has(name));
    const repeated = names.filter((name, i) => names.indexOf(name) !== i);
    if (extra.length)
      problems.push(`${key}: headers ${extra.map((n) => n || '(a line without a name)').join(', ')}`);
    if (repeated.length) problems.push(`${key}: repeated headers ${repeated.join(', ')}`);
    if (delivery.rcptTo.length !== 1 || delivery.rcptTo[0]?.toLowerCase() !== RECIPIENT) {
      problems.push(`${key}: sent to ${delivery.rcptTo.join(', ')}`);
    }
    // The text part shows a name as it is, markup included; the HTML part must have it escaped.
    const { html } = await simpleParser(delivery.raw!);
    for (const markup of MARKUP.filter((m) => m.startsWith('<'))) {
      if (typeof html === 'string' && html.includes(markup))
        problems.push(`${key}: unescaped ${markup} in the HTML`);
    }
  }
  return problems;
}
