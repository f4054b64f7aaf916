/**
 * The monitor as a person uses it, in real headless Chromium (Debian's package, driven by playwright-core): log
 * in, see the queues with their counts, open a failed job, retry it by clicking and watch it complete; find the
 * OTP email in the gallery; as the viewer, find no retry button. Screenshots land in test-results/.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { monitorEnv, OPERATOR, startTestMonitor, VIEWER, type TestMonitor } from '../helpers/monitor.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

const SCREENSHOTS = resolve(import.meta.dirname, '../../test-results');
/** Without the networking flags Chromium keeps trying to reach a network this machine does not have. */
const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
};

let smtp: SmtpSink;
let w: TestWorkers;
let m: TestMonitor;
let browser: Browser;
let failedJobId: string;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  smtp = await startSmtpSink();
  w = await startTestWorkers('browser', { ...smtpEnv(smtp), MAX_RETRIES: '0' });
  m = await startTestMonitor(w.prefix, { ...smtpEnv(smtp), ...monitorEnv });
  const events = await w.events('auth_emails');
  const sent = await w.queue('auth_emails').add('send_welcome_email', { email: 'browser-sent@example.com' });
  await sent.waitUntilFinished(events, 15_000);
  smtp.reply = () => ({ code: 550, message: 'mailbox unavailable' });
  const failed = await w.queue('auth_emails').add('send_otp_verification_email', {
    email: 'browser-otp@example.com',
    otp: '731904',
  });
  await expect(failed.waitUntilFinished(events, 15_000)).rejects.toThrow();
  failedJobId = failed.id!;
  smtp.reply = () => undefined;
  browser = await chromium.launch(CHROMIUM);
});

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await m?.close();
  await w?.stop();
  await smtp?.close();
});

async function loggedIn(login: { user: string; password: string }): Promise<Page> {
  const context = await browser.newContext({
    httpCredentials: { username: login.user, password: login.password },
    viewport: { width: 1280, height: 800 },
  });
  contexts.push(context);
  return context.newPage();
}

const retryButtons = (page: Page) => page.locator('button:has(svg.lucide-refresh-cw)');

describe('the operator', () => {
  it('logs in and sees the queues with their counts', async () => {
    const page = await loggedIn(OPERATOR);
    await page.goto(`${m.monitor.url}/queues/`);
    const main = page.locator('main');
    for (const queue of ['auth_emails', 'booking_emails', 'waitlist_emails', 'system']) {
      await main.getByText(queue, { exact: true }).first().waitFor();
    }
    // auth_emails holds one sent and one failed job; the others none.
    await main
      .getByText(/failed\s*1/i)
      .first()
      .waitFor();
    await main
      .getByText(/completed\s*1/i)
      .first()
      .waitFor();
    await expect(main.getByText('2 Jobs').count()).resolves.toBe(1);
    await page.screenshot({ path: `${SCREENSHOTS}/board.png` });
  });

  it('opens the failed job, retries it by clicking, and watches it complete', async () => {
    const page = await loggedIn(OPERATOR);
    await page.goto(`${m.monitor.url}/queues/queue/auth_emails?status=failed`);
    await page.getByText('send_otp_verification_email').first().click();
    await page
      .getByText(/SMTP 550/)
      .first()
      .waitFor();
    await page.screenshot({ path: `${SCREENSHOTS}/failed-job.png` });
    await retryButtons(page).first().click();
    // Bull Board may ask before it acts.
    const confirm = page.getByRole('button', { name: /^(confirm|retry)$/i });
    if (await confirm.isVisible().catch(() => false)) await confirm.click();
    await waitFor(
      async () => (await (await w.queue('auth_emails').getJob(failedJobId))?.getState()) === 'completed',
      {
        what: 'the retried job to complete',
        timeoutMs: 20_000,
      },
    );
    await page.goto(`${m.monitor.url}/queues/queue/auth_emails?status=completed`);
    await page.getByText('send_otp_verification_email').first().waitFor();
    await page.screenshot({ path: `${SCREENSHOTS}/retried-job.png` });
    expect(smtp.messages.some((mail) => mail.subject?.startsWith('Your verification code'))).toBe(true);
  });

  it('finds the OTP email in the gallery', async () => {
    const page = await loggedIn(OPERATOR);
    await page.goto(`${m.monitor.url}/templates`);
    const card = page.locator('section[data-task="send_otp_verification_email"][data-locale="default"]');
    await expect(card.locator('.subject').textContent()).resolves.toMatch(/verification code/i);
    const frame = card.frameLocator('iframe');
    await frame.getByText('482913').first().waitFor();
    await page.screenshot({ path: `${SCREENSHOTS}/templates.png` });
  });
});

describe('the viewer', () => {
  it('sees the failed job but no retry button', async () => {
    const failed = await w.queue('auth_emails').add('send_otp_verification_email', {
      email: 'browser-viewer@example.com',
      otp: '1234',
      expires_at: '2000-01-01T00:00:00Z',
    });
    await expect(failed.waitUntilFinished(await w.events('auth_emails'), 15_000)).rejects.toThrow();
    const page = await loggedIn(VIEWER);
    await page.goto(`${m.monitor.url}/queues/queue/auth_emails?status=failed`);
    await page.getByText('send_otp_verification_email').first().waitFor();
    await page
      .getByText(/expired/)
      .first()
      .waitFor();
    expect(await retryButtons(page).count()).toBe(0);
    expect(await page.getByText('Retry all').count()).toBe(0);
    await page.screenshot({ path: `${SCREENSHOTS}/viewer.png` });
  });
});
