/**
 * A worker that stops taking jobs while its queue has work is recreated, and the queue drains again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { startTestWorkers, type TestWorkers, smtpEnv } from '../helpers/workers.js';

let smtp: SmtpSink;
let w: TestWorkers;

beforeAll(async () => {
  smtp = await startSmtpSink();
  w = await startTestWorkers(
    'watchdog',
    { ...smtpEnv(smtp) },
    { queues: ['auth_emails'], watchdogIntervalMs: 200 },
  );
});

afterAll(async () => {
  await w?.stop();
  await smtp?.close();
});

describe('the worker watchdog', () => {
  it('recreates a worker that stopped taking jobs', async () => {
    const stopped = w.running.workers.get('auth_emails')!;
    // What a dead blocking connection looks like from outside: the worker no longer fetches jobs.
    await stopped.close();
    await w.queue('auth_emails').add('send_welcome_email', { email: 'after-watchdog@example.com' });
    await smtp.waitForMessages(1);
    expect(w.running.workers.get('auth_emails')).not.toBe(stopped);
    expect(await waitFor(() => w.logs.find((l) => /recreating/.test(String(l.msg))))).toMatchObject({
      queue: 'auth_emails',
    });
  });

  it('leaves a worker alone whose slots are all busy with slow jobs while more wait', async () => {
    const busy = w.running.workers.get('auth_emails')!;
    smtp.delayMs = 1_000;
    try {
      const jobs = await Promise.all(
        // Two more than the worker's concurrency (10): some wait while every slot is busy.
        Array.from({ length: 12 }, (_, n) =>
          w.queue('auth_emails').add('send_welcome_email', { email: `slow-${n}@example.com` }),
        ),
      );
      const events = await w.events('auth_emails');
      await Promise.all(jobs.map((job) => job.waitUntilFinished(events, 15_000)));
    } finally {
      smtp.delayMs = 0;
    }
    expect(w.running.workers.get('auth_emails')).toBe(busy);
  });
});

describe('the worker watchdog and a paused queue', () => {
  it('leaves the worker of a paused queue alone while work waits', async () => {
    const worker = w.running.workers.get('auth_emails')!;
    const queue = w.queue('auth_emails');
    await queue.pause();
    try {
      await queue.add('send_welcome_email', { email: 'paused@example.com' });
      const seen = w.logs.length;
      // Five checks of the paused queue: more than the two in a row that would recreate a stuck worker.
      await waitFor(
        () => w.logs.slice(seen).filter((l) => l.msg === 'watchdog: paused, left alone').length >= 5,
      );
      expect(w.running.workers.get('auth_emails')).toBe(worker);
    } finally {
      await queue.resume();
    }
    await waitFor(() =>
      smtp.messages.some((m) => m.to && 'value' in m.to && m.to.value[0]?.address === 'paused@example.com'),
    );
  });
});
