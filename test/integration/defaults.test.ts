/**
 * The embedded defaults: with no SMTP server configured, mail is captured as .eml files; with no database,
 * user_id tasks fail with a reason that says what to set, and the other tasks run.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { startTestWorkers, type TestWorkers } from '../helpers/workers.js';

let outboxDir: string;
let w: TestWorkers;

beforeAll(async () => {
  outboxDir = mkdtempSync(join(tmpdir(), 'outbox-'));
  w = await startTestWorkers('defaults', {
    SMTP_HOST: undefined,
    DATABASE_URL: undefined,
    OUTBOX_DIR: outboxDir,
  });
});

afterAll(async () => {
  await w?.stop();
  rmSync(outboxDir, { recursive: true, force: true });
});

describe('without SMTP_HOST outside production', () => {
  it('writes each message as an .eml file under the outbox', async () => {
    const job = await w.queue('auth_emails').add('send_welcome_email', { email: 'outbox@example.com' });
    const result = await job.waitUntilFinished(await w.events('auth_emails'), 15_000);
    expect(result.smtp_response).toContain(outboxDir);
    const files = await waitFor(() => {
      const eml = readdirSync(outboxDir).filter((f) => f.endsWith('.eml'));
      return eml.length ? eml : undefined;
    });
    const raw = readFileSync(join(outboxDir, files[0]!), 'utf8');
    expect(raw).toMatch(/^To: outbox@example\.com/m);
    expect(raw).toMatch(/^Subject: .*Welcome/im);
  });
});

describe('without a database', () => {
  it('fails a user_id task without retry, saying to set DATABASE_URL', async () => {
    const job = await w
      .queue('booking_emails')
      .add('send_booking_confirmation', { user_id: 1, booking_data: {} });
    await expect(job.waitUntilFinished(await w.events('booking_emails'), 15_000)).rejects.toThrow(
      /DATABASE_URL/,
    );
    const reloaded = await w.queue('booking_emails').getJob(job.id!);
    expect(reloaded!.attemptsStarted).toBe(1);
  });

  it('still sends a user_id task that carries its email', async () => {
    const job = await w.queue('booking_emails').add('send_booking_confirmation', {
      user_id: 1,
      email: 'has-email@example.com',
      booking_data: {},
    });
    const result = await job.waitUntilFinished(await w.events('booking_emails'), 15_000);
    expect(result).toMatchObject({ success: true, email: 'has-email@example.com', user_id: 1 });
  });
});
