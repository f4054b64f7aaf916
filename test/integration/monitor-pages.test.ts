/**
 * The monitor's own pages, fed by real workers in development mode (capture server, ledger): /workers lists live
 * and gone processes, /templates renders every task per locale, /outbox shows what was captured, /deliveries
 * reads the ledger with `unknown` rows first and the resolve buttons only for the operator.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/logger.js';
import { heartbeatKeys } from '../../src/queues/heartbeat.js';
import { startWorkers } from '../../src/queues/start-workers.js';
import { tasks } from '../../src/tasks/registry.js';
import {
  basic,
  monitorEnv,
  OPERATOR,
  startTestMonitor,
  VIEWER,
  type TestMonitor,
} from '../helpers/monitor.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

const outboxDir = mkdtempSync(join(tmpdir(), 'monitor-pages-outbox-'));
let db: TestSchema;
let w: TestWorkers;
let m: TestMonitor;
let redis: Redis;

beforeAll(async () => {
  db = await createTestSchema('pages');
  await db.addUser({ id: 7, email: 'pages-user@example.com' });
  // No SMTP_HOST: the development capture server writes var/outbox-like files to outboxDir.
  const env = { ...databaseEnv(db), OUTBOX_DIR: outboxDir };
  w = await startTestWorkers('pages', env, { name: 'pages-worker' });
  m = await startTestMonitor(w.prefix, { ...env, ...monitorEnv });
  redis = new Redis(TEST_REDIS_URL);
});

afterAll(async () => {
  redis?.disconnect();
  await m?.close();
  await w?.stop();
  await db?.drop();
  rmSync(outboxDir, { recursive: true, force: true });
});

const page = (path: string, login = OPERATOR) => m.request(path, { auth: basic(login) });

describe('/workers', () => {
  it('lists a live worker, a stopped one and one that stopped heartbeating as gone, and a live bridge', async () => {
    const second = await startWorkers(w.config, createLogger({ level: 'silent' }), {
      queues: ['system'],
      name: 'stopped-worker',
    });
    await second.close();
    // A worker process that died five minutes ago, in the workers' shape.
    const stale = Date.now() - 5 * 60_000;
    const dead = {
      id: 'dead-worker@host:1:1',
      kind: 'email-workers',
      name: 'dead-worker@host',
      host: 'host',
      pid: 1,
      queues: ['auth_emails'],
      concurrency: 10,
      started_at: new Date(stale - 60_000).toISOString(),
      last_heartbeat: new Date(stale).toISOString(),
      interval_ms: 10_000,
      jobs_processed: 3,
      jobs_failed: 0,
    };
    const keys = heartbeatKeys(w.config.redis);
    await redis
      .multi()
      .set(keys.record(dead.id), JSON.stringify(dead))
      .zadd(keys.index, stale, dead.id)
      .exec();
    // A live Celery bridge, in the bridges' own shape (src/bridges/heartbeat.ts).
    await redis.set(
      `${w.prefix}:bridges:celery-bridge@host`,
      JSON.stringify({
        name: 'celery-bridge@host',
        kind: 'celery-bridge',
        host: 'host',
        pid: 2,
        queues: ['email_notifications'],
        started: new Date(Date.now() - 60_000).toISOString(),
        last_heartbeat: new Date().toISOString(),
        counts: { bridged: 5, rejected: 1, acknowledged: 5 },
        queue_counts: {},
      }),
      'PX',
      60_000,
    );

    const { status, text } = await waitFor(async () => {
      const response = await page('/workers');
      return response.text.includes('pages-worker') && response;
    });
    expect(status).toBe(200);
    const row = (name: string) =>
      new RegExp(`<tr[^>]*>\\s*<td class="(alive|gone)">[^<]*</td>\\s*<td>${name}</td>`).exec(text)?.[1];
    expect(row('pages-worker')).toBe('alive');
    expect(row('stopped-worker')).toBe('gone');
    expect(row('dead-worker@host')).toBe('gone');
    expect(row('celery-bridge@host')).toBe('alive');
    expect(text).toContain('celery-bridge');
  });
});

describe('/templates', () => {
  it('renders every email task with its sample, per locale, HTML in a sandboxed frame and text beside it', async () => {
    const { status, text } = await page('/templates');
    expect(status).toBe(200);
    for (const task of Object.values(tasks).filter((t) => t.queue !== 'system')) {
      expect(text).toMatch(new RegExp(`data-task="${task.name}"\\s+data-locale="default"`));
    }
    expect(text).toMatch(/data-task="send_otp_verification_email"\s+data-locale="de"/);
    const frames = text.match(/<iframe\s[^>]*>/g) ?? [];
    expect(frames.length).toBeGreaterThanOrEqual(8);
    expect(frames.every((frame) => frame.includes('sandbox=""') && frame.includes('srcdoc="'))).toBe(true);
    // The frame's document is an attribute value: escaped, so its markup cannot break out of the frame.
    expect(text).toMatch(/srcdoc="&lt;!doctype html&gt;/i);
    expect(text).toMatch(/<pre class="text">[\s\S]*482913/);
  });
});

describe('/outbox', () => {
  it('shows the captured messages, newest first, with addresses masked', async () => {
    const queue = w.queue('auth_emails');
    const events = await w.events('auth_emails');
    const first = await queue.add('send_welcome_email', {
      email: 'outbox-first@example.com',
      user_data: { full_name: 'First' },
    });
    await first.waitUntilFinished(events, 15_000);
    const second = await queue.add('send_welcome_email', {
      email: 'outbox-second@example.com',
      user_data: { full_name: 'Second' },
    });
    await second.waitUntilFinished(events, 15_000);
    const { status, text } = await waitFor(async () => {
      const response = await page('/outbox');
      return response.text.includes('o***@example.com') && response;
    });
    expect(status).toBe(200);
    expect(text).not.toContain('outbox-first@example.com');
    expect(text).toMatch(/<iframe\s+sandbox=""/);
    expect(text.indexOf('Second')).toBeLessThan(text.indexOf('First'));
  });

  it('is not there when a real SMTP server is configured', async () => {
    const withSmtp = await startTestMonitor(w.prefix, { ...monitorEnv, SMTP_HOST: '127.0.0.1' });
    try {
      expect((await withSmtp.request('/outbox', { auth: basic(OPERATOR) })).status).toBe(404);
    } finally {
      await withSmtp.close();
    }
  });
});

describe('/deliveries', () => {
  beforeAll(async () => {
    const events = await w.events('booking_emails');
    const job = await w
      .queue('booking_emails')
      .add('send_booking_confirmation', { user_id: 7, booking_data: { event_name: 'Pages' } });
    await job.waitUntilFinished(events, 15_000);
    // A row a person must decide: the state an attempt that died after the SMTP server's 250 leaves behind.
    await db.pool.query(
      `INSERT INTO ${db.schema}.email_deliveries (idempotency_key, job_id, queue, task, recipient, status, attempts)
       VALUES ('send_booking_confirmation~uncertain-1', '99', 'booking_emails', 'send_booking_confirmation',
               'uncertain@example.com', 'unknown', 1)`,
    );
  });

  it('lists the ledger with unknown rows first and recipients masked', async () => {
    const { status, text } = await page('/deliveries');
    expect(status).toBe(200);
    const statuses = [...text.matchAll(/data-status="(\w+)"/g)].map((match) => match[1]);
    expect(statuses[0]).toBe('unknown');
    expect(statuses).toContain('sent');
    expect(text).toContain('u***@example.com');
    expect(text).not.toContain('uncertain@example.com');
    expect(text).not.toContain('pages-user@example.com');
  });

  it('filters by status, task and recipient', async () => {
    const sent = await page('/deliveries?status=sent&task=send_booking_confirmation');
    expect([...sent.text.matchAll(/data-status="(\w+)"/g)].map((match) => match[1])).toEqual(['sent']);
    const byRecipient = await page('/deliveries?to=uncertain%40example.com');
    expect([...byRecipient.text.matchAll(/data-status="(\w+)"/g)].map((match) => match[1])).toEqual([
      'unknown',
    ]);
    const none = await page('/deliveries?to=nobody%40example.com');
    expect(none.text).toContain('no deliveries match');
  });

  it('offers the operator the resolve buttons and the viewer none', async () => {
    expect((await page('/deliveries')).text).toContain('/deliveries/resolve');
    expect((await page('/deliveries', VIEWER)).text).not.toContain('/deliveries/resolve');
  });

  it('lets the operator resolve an unknown delivery as sent, which replays its failed job as a duplicate', async () => {
    const events = await w.events('booking_emails');
    // Too late to send: it fails at once, and the ledger holds a row for its key.
    const job = await w
      .queue('booking_emails')
      .add(
        'send_booking_confirmation',
        { user_id: 7, email: 'resolve@example.com', booking_data: {}, expires_at: '2000-01-01T00:00:00Z' },
        { jobId: 'resolve-me' },
      );
    await expect(job.waitUntilFinished(events, 15_000)).rejects.toThrow(/expired/);
    const key = 'send_booking_confirmation~resolve-me';
    await db.pool.query(
      `UPDATE ${db.schema}.email_deliveries SET status = 'unknown' WHERE idempotency_key = $1`,
      [key],
    );

    const resolveAsSent = () =>
      m.request('/deliveries/resolve', {
        method: 'POST',
        auth: basic(OPERATOR),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `key=${encodeURIComponent(key)}&resolution=sent`,
      });
    const response = await resolveAsSent();
    expect(response.status).toBe(303);
    const { rows } = await db.pool.query(
      `SELECT status, resolved_by FROM ${db.schema}.email_deliveries WHERE idempotency_key = $1`,
      [key],
    );
    expect(rows[0]).toEqual({ status: 'sent', resolved_by: 'monitor:ops' });
    await waitFor(
      async () => (await w.queue('booking_emails').getJob('resolve-me'))?.returnvalue?.duplicate === true,
      {
        what: 'the replayed job to complete as a duplicate',
      },
    );

    const again = await resolveAsSent();
    expect(again.status).toBe(409);
  });
});
