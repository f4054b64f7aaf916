/**
 * Scenario 13: the primary SMTP relay goes down with a fallback relay configured (SMTP_FALLBACK_*). OTP codes keep
 * going out, through the fallback, once the primary's breaker opens; welcome, waitlist and booking emails wait for
 * the primary and go through it when it is back. Nothing is lost, failed, charged or sent twice, and the ledger
 * says which relay sent each email.
 */
import { expect, it } from 'vitest';
import { mixedEmail, secondsBetween, startScenario } from './harness/scenario.js';
import { waitFor } from '../helpers/wait.js';

const BEFORE = 40;
const DURING = 80;
/** In the standard mix, every fourth email from the second on is an OTP. */
const otpsAmong = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => mixedEmail(from + i).task).filter(
    (task) => task === 'send_otp_verification_email',
  ).length;

it('primary relay down: OTPs through the fallback, the rest wait for the primary; all delivered once', async () => {
  const s = await startScenario('13-fallback-relay', {
    title: 'Primary relay down, fallback relay up',
    fallbackSmtp: true,
    env: { BREAKER_PROBE_INTERVAL: '2s' },
  });
  const fallback = s.fallback!;
  await s.startWorkers(2);
  await s.enqueueMix(BEFORE);
  await s.waitForDelivered(BEFORE);

  await s.smtp.stop();
  const downAt = Date.now();
  await s.enqueueMix(DURING);
  const otps = otpsAmong(BEFORE, DURING);
  await waitFor(() => fallback.deliveries.length >= otps, {
    timeoutMs: 90_000,
    intervalMs: 100,
    what: `${otps} OTPs through the fallback`,
  }).catch(() => undefined);
  const lastFallbackDelivery = Math.max(...fallback.deliveries.map((d) => d.at));
  const deliveredDuringOutage = s.delivered();

  await s.smtp.start();
  const upAt = Date.now();
  await s.waitForDelivered(BEFORE + DURING, 90_000).catch(() => undefined);
  const lastDelivery = Math.max(...s.smtp.deliveries.map((d) => d.at));
  const report = await s.finish({ settleTimeoutMs: 60_000 });
  const { rows } = await s.schema.pool.query<{ task: string; relay: string | null; n: number }>(
    `SELECT task, relay, count(*)::int AS n FROM ${s.schema.schema}.email_deliveries
      WHERE status = 'sent' GROUP BY task, relay ORDER BY task, relay`,
  );
  const charged = [...(await s.attemptsUsed()).entries()].filter(([, n]) => n > 0);
  s.record({
    recoverySeconds: secondsBetween(upAt, lastDelivery),
    notes: [
      'recovery: from the primary listening again to the last delivery',
      'otpSecondsViaFallback: from the primary going down to the last OTP accepted by the fallback',
    ],
    extra: {
      otpsDuringOutage: otps,
      otpsViaFallback: fallback.deliveries.length,
      otpSecondsViaFallback: secondsBetween(downAt, lastFallbackDelivery),
      deliveredDuringOutage,
      emailsCharged: charged.length,
      ledgerByRelay: Object.fromEntries(rows.map((row) => [`${row.task}/${row.relay}`, row.n])),
    },
  });

  expect(report).toMatchObject({
    acknowledged: BEFORE + DURING,
    delivered: BEFORE + DURING,
    lost: 0,
    failed: 0,
  });
  expect(report.duplicates).toBe(0);
  // During the outage exactly the OTPs went out, every one through the fallback.
  expect(fallback.deliveries).toHaveLength(otps);
  expect(deliveredDuringOutage).toBe(BEFORE + otps);
  expect(rows.filter((row) => row.relay === 'fallback')).toEqual([
    { task: 'send_otp_verification_email', relay: 'fallback', n: otps },
  ]);
  expect(rows.filter((row) => row.relay !== 'fallback' && row.relay !== 'primary')).toEqual([]);
  expect(
    charged.map(([key]) => key),
    'emails charged an attempt for the outage',
  ).toEqual([]);
}, 300_000);
