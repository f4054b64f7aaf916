/**
 * Every worker process on HEALTH_PORT: liveness, readiness that follows its components (SMTP down → 503, back →
 * 200), Prometheus counters that match a known run, the heartbeat the monitor lists, and the stats log line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { closedPort, startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';
import { heartbeatKeys, listWorkers } from '../../src/queues/heartbeat.js';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL } from '../helpers/redis.js';

let smtp: SmtpSink;
let proxy: TcpProxy;
let db: TestSchema;
let w: TestWorkers;
let base: string;

beforeAll(async () => {
  smtp = await startSmtpSink();
  proxy = await startTcpProxy(smtp.port);
  db = await createTestSchema('health');
  const port = await closedPort();
  base = `http://127.0.0.1:${port}`;
  w = await startTestWorkers('health', {
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(proxy.port),
    ...databaseEnv(db),
    HEALTH_PORT: String(port),
    WORKER_STATS_INTERVAL: '200ms',
    MAX_RETRIES: '1',
  });
});

afterAll(async () => {
  await w?.stop();
  await proxy?.close();
  await smtp?.close();
  await db?.drop();
});

const get = async (path: string) => {
  const response = await fetch(`${base}${path}`);
  return { status: response.status, text: await response.text(), type: response.headers.get('content-type') };
};

/** The value of one sample line of the Prometheus text, e.g. `email_jobs_completed_total{task="x"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('/health', () => {
  it('answers 200 with the old service shape', async () => {
    const { status, text } = await get('/health');
    expect(status).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ status: 'healthy', service: 'email_workers' });
  });
});

describe('/health/ready', () => {
  it('is 200 with every component usable', async () => {
    const { status, text } = await get('/health/ready');
    expect(status, text).toBe(200);
    expect(Object.keys(JSON.parse(text).components).sort()).toEqual([
      'breaker:database',
      'breaker:redis',
      'breaker:smtp',
      'database',
      'redis',
      'smtp',
      'templates',
    ]);
  });

  it('turns 503 while the SMTP server is down, naming it, and 200 when it is back', async () => {
    proxy.cut();
    try {
      const down = await get('/health/ready');
      expect(down.status).toBe(503);
      const body = JSON.parse(down.text);
      expect(body.status).toBe('not_ready');
      expect(body.components.smtp.ok).toBe(false);
      expect(body.components.redis.ok).toBe(true);
    } finally {
      proxy.restore();
    }
    await waitFor(async () => (await get('/health/ready')).status === 200, { what: 'ready again' });
  });
});

describe('a circuit breaker', () => {
  it('makes /health/ready 503 while open, and shows in email_breaker_state', async () => {
    // The probe (every BREAKER_PROBE_INTERVAL, 5 s) finds the database up and closes it again.
    for (let i = 0; i < w.config.breaker.threshold; i++) {
      w.running.breakers.failure('database', new Error('test outage'));
    }
    expect(w.running.breakers.isOpen('database')).toBe(true);
    const down = await get('/health/ready');
    expect(down.status).toBe(503);
    expect(JSON.parse(down.text).components['breaker:database']).toEqual({
      ok: false,
      error: 'circuit breaker open',
    });
    expect(sample((await get('/metrics')).text, 'email_breaker_state{dependency="database"}')).toBe(2);
    await waitFor(async () => (await get('/health/ready')).status === 200, {
      what: 'the breaker to close',
      timeoutMs: 20_000,
    });
    expect(sample((await get('/metrics')).text, 'email_breaker_state{dependency="database"}')).toBe(0);
  });
});

describe('/metrics after a known run', () => {
  it('counts completed, skipped, retried and failed jobs per task, and the queue gauges', async () => {
    const events = await w.events('auth_emails');
    const queue = w.queue('auth_emails');
    // Two sent; one duplicate of the first (same key): skipped; one 550: failed at once; one 421 then sent.
    const first = await queue.add(
      'send_welcome_email',
      { email: 'metrics-1@example.com' },
      { jobId: 'metrics-key' },
    );
    await first.waitUntilFinished(events, 15_000);
    await queue.remove('metrics-key');
    const again = await queue.add(
      'send_welcome_email',
      { email: 'metrics-1@example.com' },
      { jobId: 'metrics-key' },
    );
    expect((await again.waitUntilFinished(events, 15_000)).duplicate).toBe(true);
    smtp.reply = () => ({ code: 550, message: 'no such user' });
    const rejected = await queue.add('send_welcome_email', { email: 'metrics-2@example.com' });
    await expect(rejected.waitUntilFinished(events, 15_000)).rejects.toThrow();
    const start = smtp.transactions;
    smtp.reply = (n) => (n === start + 1 ? { code: 421, message: 'later' } : undefined);
    const retried = await queue.add('send_welcome_email', { email: 'metrics-3@example.com' });
    await retried.waitUntilFinished(events, 15_000);
    smtp.reply = () => undefined;
    await queue.add('send_welcome_email', { email: 'metrics-waiting@example.com' }, { delay: 60_000 });

    const { status, text, type } = await get('/metrics');
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain/);
    const task = '{task="send_welcome_email"}';
    expect(sample(text, `email_jobs_completed_total${task}`)).toBe(2);
    expect(sample(text, `email_jobs_skipped_total${task}`)).toBe(1);
    expect(sample(text, `email_jobs_retried_total${task}`)).toBe(1);
    expect(sample(text, `email_jobs_failed_total${task}`)).toBe(1);
    expect(sample(text, `email_dead_letters_total${task}`)).toBe(1);
    expect(sample(text, `email_job_duration_seconds_count{task="send_welcome_email",outcome="sent"}`)).toBe(
      2,
    );
    // Sent twice, refused once (550), deferred once (421).
    expect(sample(text, 'email_smtp_send_duration_seconds_count{result="accepted"}')).toBe(2);
    expect(sample(text, 'email_queue_jobs{queue="auth_emails",state="delayed"}')).toBe(1);
    expect(sample(text, 'email_queue_jobs{queue="auth_emails",state="failed"}')).toBe(1);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(text).toMatch(/^process_resident_memory_bytes /m);
  });

  it('logs a stats line every WORKER_STATS_INTERVAL with the totals since start', async () => {
    const line = await waitFor(
      () =>
        [...w.logs]
          .reverse()
          .find((l) => l.msg === 'worker stats' && (l.stats as { sent: number }).sent >= 2),
      { what: 'a stats line' },
    );
    expect(line.stats).toEqual({ total: 5, sent: 2, skipped: 1, failed: 1, retried: 1, dead_lettered: 1 });
  });
});

describe('the heartbeat', () => {
  it('lists this process as a live email-workers worker with its queues', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const [worker] = await waitFor(async () => {
        const list = await listWorkers(redis, w.config.redis);
        return list.length > 0 && list;
      });
      expect(worker).toMatchObject({ kind: 'email-workers', pid: process.pid, alive: true, concurrency: 10 });
      expect(worker!.queues.sort()).toEqual(['auth_emails', 'booking_emails', 'system', 'waitlist_emails']);
      expect(await redis.zscore(heartbeatKeys(w.config.redis).index, worker!.id)).not.toBeNull();
    } finally {
      redis.disconnect();
    }
  });
});
