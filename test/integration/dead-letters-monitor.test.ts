/**
 * The monitor's dead letters: listed on /dead-letters and by GET /api/dead-letters, redacted (no OTP code, no
 * address); replayed by the operator (a button) or the API, never by a viewer; each replay sends once.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import { failedJob, recipientOf } from '../helpers/jobs.js';
import {
  API_TOKEN,
  OPERATOR,
  VIEWER,
  basic,
  bearer,
  monitorEnv,
  startTestMonitor,
  type TestMonitor,
} from '../helpers/monitor.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

let smtp: SmtpSink;
let w: TestWorkers;
let m: TestMonitor;

beforeAll(async () => {
  smtp = await startSmtpSink();
  w = await startTestWorkers('dead-letters-monitor', { ...smtpEnv(smtp), LEDGER_ENABLED: 'false' });
  m = await startTestMonitor(w.prefix, { ...smtpEnv(smtp), ...monitorEnv, LEDGER_ENABLED: 'false' });
});

afterAll(async () => {
  await m?.close();
  await w?.stop();
  await smtp?.close();
});

const listed = async () => (await m.request('/api/dead-letters', { auth: bearer(API_TOKEN) })).json();

it('lists dead letters redacted, and replays them for the operator and the API only, each sent once', async () => {
  smtp.reply = () => ({ code: 550, message: 'Mailbox unavailable' });
  const jobs: Job[] = [
    await w
      .queue('auth_emails')
      .add('send_otp_verification_email', { email: 'code-holder@example.com', otp: '640128' }),
    await w.queue('auth_emails').add('send_welcome_email', { email: 'welcome-back@example.com' }),
  ];
  for (const job of jobs) await failedJob(w, job);
  const [otpId, welcomeId] = jobs.map((job) => `auth_emails/${job.id}`);
  await waitFor(async () => (await listed()).dead_letters.length === 2, { what: 'two dead letters' });
  smtp.reply = () => undefined;

  const body = await listed();
  expect(body.dead_letters.map((letter: { id: string }) => letter.id).sort()).toEqual(
    [otpId, welcomeId].sort(),
  );
  expect(body.dead_letters.find((letter: { id: string }) => letter.id === otpId)).toMatchObject({
    source: 'email-workers',
    task: 'send_otp_verification_email',
    code: 'SMTP_REJECTED',
    recipient: 'c***@example.com',
  });

  const viewerPage = await m.request('/dead-letters', { auth: basic(VIEWER) });
  expect(viewerPage.status).toBe(200);
  expect(viewerPage.text).toContain(welcomeId);
  expect(viewerPage.text).not.toContain('/dead-letters/replay');
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const byViewer = await m.request('/dead-letters/replay', {
    method: 'POST',
    auth: basic(VIEWER),
    headers: form,
    body: `id=${encodeURIComponent(welcomeId!)}`,
  });
  expect(byViewer.status).toBe(403);

  expect((await m.request('/dead-letters', { auth: basic(OPERATOR) })).text).toContain(
    '/dead-letters/replay',
  );
  const byOperator = await m.request('/dead-letters/replay', {
    method: 'POST',
    auth: basic(OPERATOR),
    headers: form,
    body: `id=${encodeURIComponent(welcomeId!)}`,
  });
  expect(byOperator.status).toBe(303);
  expect(byOperator.headers.get('location')).toMatch(/\/dead-letters\?notice=.*replayed/);

  const byApi = await m.request(`/api/dead-letters/${encodeURIComponent(otpId!)}/replay`, {
    method: 'POST',
    auth: bearer(API_TOKEN),
  });
  expect(byApi.status).toBe(200);
  expect(byApi.json()).toMatchObject({ id: otpId, replayed: true });
  const again = await m.request(`/api/dead-letters/${encodeURIComponent(otpId!)}/replay`, {
    method: 'POST',
    auth: bearer(API_TOKEN),
  });
  expect(again.status).toBe(404);
  expect(again.json().error.code).toBe('DEAD_LETTER_NOT_FOUND');

  await smtp.waitForMessages(2);
  for (const job of jobs) {
    await waitFor(async () =>
      (await w.queue('auth_emails').getJob(job.id!))!.getState().then((s) => s === 'completed'),
    );
  }
  expect(smtp.messages.map(recipientOf).sort()).toEqual([
    'code-holder@example.com',
    'welcome-back@example.com',
  ]);
  expect(smtp.messages.find((mail) => recipientOf(mail) === 'code-holder@example.com')!.text).toContain(
    '640128',
  );
  expect((await listed()).dead_letters).toEqual([]);
  expect(m.bodies.join('\n')).not.toMatch(/640128|code-holder@|welcome-back@/);
});
