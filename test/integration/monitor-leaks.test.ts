/**
 * Shown on a screen in a meeting, the board and the API leak nothing: a full session over every route of the
 * board, the pages and the API, after sent, failed, retried and waiting OTP and welcome jobs, and not one
 * response body carries an OTP code, an address or a person's name that the test enqueued.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import {
  basic,
  bearer,
  monitorEnv,
  OPERATOR,
  startTestMonitor,
  VIEWER,
  type TestMonitor,
} from '../helpers/monitor.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';
import { QUEUE_NAMES } from '../../src/tasks/define-task.js';

const CODES = ['830571', '5519302', '0047'];
const ADDRESSES = [
  'leak.one@example.org',
  'leak-two@example.org',
  'leak3@example.org',
  'leak-four@example.org',
];
const NAMES = ['Grace Brewster Hopper', 'Brewster', 'Katherine Johnson', 'Johnson', 'kjohnson'];

let smtp: SmtpSink;
let db: TestSchema;
let w: TestWorkers;
let m: TestMonitor;
const jobIds: Array<{ queue: string; id: string }> = [];

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('leaks');
  w = await startTestWorkers('leaks', { ...smtpEnv(smtp), ...databaseEnv(db), MAX_RETRIES: '1' });
  m = await startTestMonitor(w.prefix, { ...smtpEnv(smtp), ...databaseEnv(db), ...monitorEnv });

  const events = await w.events('auth_emails');
  const queue = w.queue('auth_emails');
  const track = (job: Job) => jobIds.push({ queue: job.queueName, id: job.id! });
  // Sent.
  const sent = await queue.add('send_otp_verification_email', {
    email: ADDRESSES[0],
    otp: CODES[0],
    user_data: { full_name: NAMES[0], username: 'ghopper' },
  });
  track(sent);
  await sent.waitUntilFinished(events, 15_000);
  // Refused with a reply that quotes the address: a failed reason, a job log and a stack trace.
  smtp.reply = () => ({ code: 550, message: `<${ADDRESSES[1]}>: mailbox unavailable` });
  const refused = await queue.add('send_otp_verification_email', {
    email: ADDRESSES[1],
    otp: CODES[1],
    user_data: { full_name: NAMES[2], username: NAMES[4] },
  });
  track(refused);
  await expect(refused.waitUntilFinished(events, 15_000)).rejects.toThrow();
  // Deferred once, then sent: a retry in the job log.
  const start = smtp.transactions;
  smtp.reply = (n) => (n === start + 1 ? { code: 451, message: `try ${ADDRESSES[2]} later` } : undefined);
  const deferred = await queue.add('send_welcome_email', {
    email: ADDRESSES[2],
    user_data: { full_name: NAMES[2] },
  });
  track(deferred);
  await deferred.waitUntilFinished(events, 15_000);
  smtp.reply = () => undefined;
  // Waiting (delayed), through the API.
  const viaApi = await m.request('/api/tasks/send_otp_verification_email?delay_ms=600000', {
    method: 'POST',
    auth: bearer(),
    body: JSON.stringify({ email: ADDRESSES[3], otp: CODES[2], user_data: { full_name: NAMES[0] } }),
  });
  expect(viaApi.status).toBe(202);
  jobIds.push({ queue: 'auth_emails', id: viaApi.json().job_id });
  // A worker heartbeat, so /workers and /api/stats have content.
  await waitFor(async () => (await m.request('/api/stats', { auth: bearer() })).json().workers.length === 1);
});

afterAll(async () => {
  await m?.close();
  await w?.stop();
  await smtp?.close();
  await db?.drop();
});

async function fullSession(auth: string): Promise<void> {
  const board = (path: string) => m.request(`/queues${path}`, { auth });
  expect((await board('/')).status).toBe(200);
  for (const queue of QUEUE_NAMES) {
    for (const status of ['latest', 'active', 'waiting', 'prioritized', 'completed', 'failed', 'delayed']) {
      const response = await board(`/api/queues?activeQueue=${queue}&status=${status}&page=1&jobsPerPage=50`);
      expect(response.status).toBe(200);
    }
  }
  for (const { queue, id } of jobIds) {
    const job = encodeURIComponent(id);
    expect((await board(`/api/queues/${queue}/${job}`)).status).toBe(200);
    expect((await board(`/api/queues/${queue}/${job}/logs`)).status).toBe(200);
    expect((await m.request(`/api/jobs/${job}?queue=${queue}`, { auth: bearer() })).status).toBe(200);
  }
  for (const path of ['/workers', '/templates', '/deliveries', '/deliveries?status=failed', '/metrics']) {
    expect((await m.request(path, { auth })).status, path).toBe(200);
  }
  for (const path of ['/api/jobs?limit=100', '/api/jobs?state=failed', '/api/stats', '/api/openapi.json']) {
    expect((await m.request(path, { auth: bearer() })).status, path).toBe(200);
  }
}

/** A code found as a whole number, not inside a longer one (a timestamp may contain any digits). */
const codeIn = (text: string, code: string) => new RegExp(`(?<!\\d)${code}(?!\\d)`).test(text);

describe('a full session of the operator and of the viewer', () => {
  beforeAll(async () => {
    await fullSession(basic(OPERATOR));
    await fullSession(basic(VIEWER));
  });

  it('fetched the jobs it looks for (the check below has something to find)', () => {
    const all = m.bodies.join('\n');
    expect(all).toContain('l***@example.org');
    expect(all).toContain('mailbox unavailable');
    expect(all).toContain('send_otp_verification_email');
    expect(m.bodies.length).toBeGreaterThan(90);
  });

  it.each(CODES)('shows no OTP code %s', (code) => {
    expect(m.bodies.filter((body) => codeIn(body, code))).toEqual([]);
  });

  it.each(ADDRESSES)('shows no address %s', (address) => {
    expect(m.bodies.filter((body) => body.toLowerCase().includes(address.toLowerCase()))).toEqual([]);
  });

  it.each(NAMES)('shows no name %s', (name) => {
    expect(m.bodies.filter((body) => body.includes(name))).toEqual([]);
  });
});
