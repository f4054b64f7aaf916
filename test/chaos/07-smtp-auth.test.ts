/**
 * Scenario 7: the relay refuses our credentials (535). That is about our account, so every email would fail
 * alike: the SMTP breaker opens, the log says why at `fatal`, and no email is failed for it. Restarted with the
 * right password, the workers deliver them all.
 */
import { expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { startScenario, type Scenario, expectEachDeliveredOnce } from './harness/scenario.js';

const EMAILS = 40;
const CREDENTIALS = { username: 'mailer', password: 'right-password' };

it('535 on authentication: the breaker opens with a fatal line, no job fails; good credentials deliver all', async () => {
  const s = await startScenario('07-smtp-auth', {
    title: '535 on SMTP authentication, then good credentials',
    smtp: { auth: CREDENTIALS },
    env: { BREAKER_PROBE_INTERVAL: '1s' },
  });
  const wrong = s.spawnWorker('wrong-password', { env: { SMTP_PASSWORD: 'wrong-password' } });
  await wrong.ready();
  await s.enqueueMix(EMAILS);

  const opened = await wrong
    .waitForLog(
      (line) => line.breaker === 'smtp' && line.state === 'open',
      'the SMTP breaker to open',
      60_000,
    )
    .catch(() => undefined);
  const fatal = wrong.logs.find((line) => line.level === 60 && /535/.test(JSON.stringify(line)));
  // While it stays open it lets a probe through now and then (each refused again), and still no email fails.
  const refusalsAtOpen = s.smtp.authFailures;
  const probed = opened
    ? await waitFor(() => s.smtp.authFailures >= refusalsAtOpen + 2, {
        timeoutMs: 15_000,
        what: 'two probes',
      }).catch(() => false)
    : false;
  const failedWhileWrong = await failedCount(s);
  const wrongExit = await wrong.terminate();

  await s.startWorkers(1);
  const report = await s.finish({ settleTimeoutMs: 120_000 });
  s.record({
    extra: {
      authRefusals: s.smtp.authFailures,
      authRefusalsBeforeBreakerOpened: refusalsAtOpen,
      fatalLine: fatal ? String(fatal.msg) : null,
      failedWhileCredentialsWrong: failedWhileWrong,
      probedWhileOpen: probed,
    },
  });

  expect(opened, 'the SMTP breaker opened').toBeDefined();
  expect(fatal, 'a fatal log line naming the 535').toBeDefined();
  expect(failedWhileWrong).toBe(0);
  expect(wrongExit).toMatchObject({ code: 0, signal: null });
  expectEachDeliveredOnce(report, EMAILS);
});

async function failedCount(s: Scenario): Promise<number> {
  const counts = await Promise.all(
    (['auth_emails', 'booking_emails', 'waitlist_emails'] as const).map((name) =>
      s.queue(name).getFailedCount(),
    ),
  );
  return counts.reduce((sum, n) => sum + n, 0);
}
