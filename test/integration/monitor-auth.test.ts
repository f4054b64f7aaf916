/**
 * Who gets in: no credentials → 401 everywhere but /health; the operator does everything; the viewer reads and
 * is refused every change (403); the board login and the API token do not open each other; repeated failures
 * from one address get 429 with Retry-After; production refuses to start without logins; development without
 * them says on every page that the monitor is open.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, Worker } from 'bullmq';
import { ConfigError } from '../../src/errors.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startMonitor } from '../../src/monitor/app.js';
import {
  API_TOKEN,
  basic,
  bearer,
  monitorEnv,
  OPERATOR,
  startTestMonitor,
  VIEWER,
  type TestMonitor,
} from '../helpers/monitor.js';
import { removePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { testEnv } from '../helpers/workers.js';

const prefix = uniquePrefix('monitor-auth');
const outboxDir = mkdtempSync(join(tmpdir(), 'monitor-auth-outbox-'));
let m: TestMonitor;
let queue: Queue;
let failedJobId: string;

beforeAll(async () => {
  m = await startTestMonitor(prefix, { ...monitorEnv, OUTBOX_DIR: outboxDir });
  queue = new Queue('auth_emails', { connection: { url: TEST_REDIS_URL }, prefix });
  failedJobId = (await queue.add('send_welcome_email', { email: 'auth-test@example.com' })).id!;
  await failNextJob();
});

/** Takes the next waiting job and fails it, as a worker would: a failed job for the retry routes. */
async function failNextJob(): Promise<void> {
  const worker = new Worker('auth_emails', null, {
    connection: { url: TEST_REDIS_URL },
    prefix,
    autorun: false,
  });
  try {
    const job = await worker.getNextJob('test-token');
    await job!.moveToFailed(new Error('made to fail'), 'test-token', false);
  } finally {
    await worker.close();
  }
}

afterAll(async () => {
  await m?.close();
  await queue?.close();
  await removePrefix(prefix);
  rmSync(outboxDir, { recursive: true, force: true });
});

const PAGES = [
  '/queues/',
  '/queues/api/queues',
  '/workers',
  '/templates',
  '/outbox',
  '/deliveries',
  '/metrics',
];

describe('without credentials', () => {
  it.each(PAGES)('answers 401 with a Basic challenge on %s', async (path) => {
    const response = await m.request(path);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
  });

  it('answers 401 on the API, with the error shape', async () => {
    for (const [method, path] of [
      ['GET', '/api/stats'],
      ['POST', '/api/tasks/send_welcome_email'],
      ['GET', '/api/openapi.json'],
    ] as const) {
      const response = await m.request(path, { method });
      expect(response.status, path).toBe(401);
      if (path !== '/api/openapi.json') expect(response.json().error.code).toBe('UNAUTHORIZED');
    }
  });

  it('serves /health', async () => {
    expect((await m.request('/health')).status).toBe(200);
  });

  it('answers 401 for a wrong password', async () => {
    expect((await m.request('/workers', { auth: basic({ ...OPERATOR, password: 'nope' }) })).status).toBe(
      401,
    );
  });
});

describe('the operator', () => {
  it.each(PAGES)('sees %s', async (path) => {
    expect((await m.request(path, { auth: basic(OPERATOR) })).status).toBe(200);
  });

  it('pauses and resumes a queue, and retries a failed job', async () => {
    const auth = basic(OPERATOR);
    expect(
      (await m.request('/queues/api/queues/auth_emails/pause', { method: 'PUT', auth })).status,
    ).toBeLessThan(300);
    expect(await queue.isPaused()).toBe(true);
    expect(
      (await m.request('/queues/api/queues/auth_emails/resume', { method: 'PUT', auth })).status,
    ).toBeLessThan(300);
    expect(await queue.isPaused()).toBe(false);
    expect(await (await queue.getJob(failedJobId))!.getState()).toBe('failed');
    const retried = await m.request(`/queues/api/queues/auth_emails/${failedJobId}/retry`, {
      method: 'PUT',
      auth,
    });
    expect(retried.status).toBeLessThan(300);
    expect(await (await queue.getJob(failedJobId))!.getState()).toBe('waiting');
    await failNextJob();
  });

  it('cannot edit a job’s data from the board, which shows it redacted', async () => {
    const response = await m.request(`/queues/api/queues/auth_emails/${failedJobId}/update-data`, {
      method: 'PATCH',
      auth: basic(OPERATOR),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobData: { email: 'a***@example.com' } }),
    });
    expect(response.status).toBe(403);
  });

  it('gets 409 from the resolve action when there is no ledger to resolve in', async () => {
    const response = await m.request('/deliveries/resolve', {
      method: 'POST',
      auth: basic(OPERATOR),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'key=send_welcome_email~k&resolution=sent',
    });
    expect(response.status).toBe(409);
    expect(response.text).toMatch(/ledger is off/);
  });

  it('is refused a change sent from another origin', async () => {
    const response = await m.request('/queues/api/queues/auth_emails/pause', {
      method: 'PUT',
      auth: basic(OPERATOR),
      headers: { origin: 'https://evil.example.com' },
    });
    expect(response.status).toBe(403);
  });
});

describe('the viewer', () => {
  const auth = basic(VIEWER);

  it.each(PAGES)('sees %s', async (path) => {
    expect((await m.request(path, { auth })).status).toBe(200);
  });

  it('gets a read-only board: every queue says readOnlyMode, so the UI shows no buttons', async () => {
    const { queues } = (await m.request('/queues/api/queues', { auth })).json();
    expect(queues.length).toBe(4);
    expect(queues.every((q: { readOnlyMode: boolean }) => q.readOnlyMode)).toBe(true);
    const operatorView = (await m.request('/queues/api/queues', { auth: basic(OPERATOR) })).json();
    expect(operatorView.queues.every((q: { readOnlyMode: boolean }) => !q.readOnlyMode)).toBe(true);
  });

  it.each([
    ['retry', 'PUT', (): string => `/queues/api/queues/auth_emails/${failedJobId}/retry`],
    ['retry all', 'PUT', (): string => '/queues/api/queues/auth_emails/retry/failed'],
    ['clean', 'PUT', (): string => '/queues/api/queues/auth_emails/clean/failed'],
    ['pause', 'PUT', (): string => '/queues/api/queues/auth_emails/pause'],
    ['promote', 'PUT', (): string => `/queues/api/queues/auth_emails/${failedJobId}/promote`],
    ['resolve', 'POST', (): string => '/deliveries/resolve'],
  ] as const)('cannot %s (403)', async (_what, method, path) => {
    const response = await m.request(path(), {
      method,
      auth,
      body: method === 'POST' ? 'key=k&resolution=sent' : undefined,
    });
    expect(response.status).toBe(403);
  });

  it('left the failed job failed and the queue as it was', async () => {
    expect(await (await queue.getJob(failedJobId))!.getState()).toBe('failed');
    expect(await queue.getJobCountByTypes('failed')).toBe(1);
  });
});

describe('separate credentials', () => {
  it('a board login does not open the API', async () => {
    expect((await m.request('/api/stats', { auth: basic(OPERATOR) })).status).toBe(401);
  });

  it('the API token does not open the board', async () => {
    expect((await m.request('/queues/api/queues', { auth: bearer() })).status).toBe(401);
    expect((await m.request('/api/stats', { auth: bearer() })).status).toBe(200);
  });
});

describe('repeated failures from one address', () => {
  it('get 429 with Retry-After, even with the right password, on the board and for a wrong API token', async () => {
    const own = await startTestMonitor(prefix, monitorEnv);
    try {
      for (let i = 0; i < 10; i++) {
        expect(
          (await own.request('/workers', { auth: basic({ ...OPERATOR, password: `guess-${i}` }) })).status,
        ).toBe(401);
      }
      const blocked = await own.request('/workers', { auth: basic(OPERATOR) });
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      const api = await own.request('/api/stats', { auth: bearer('a-wrong-token-of-length') });
      expect(api.status).toBe(429);
      expect(api.headers.get('retry-after')).not.toBeNull();
      expect(api.json().error.code).toBe('TOO_MANY_REQUESTS');
      // Producers behind the same address keep enqueueing: the right token is never held back.
      expect((await own.request('/api/stats', { auth: bearer(API_TOKEN) })).status).toBe(200);
    } finally {
      await own.close();
    }
  });
});

describe('start-up without credentials', () => {
  it('is refused in production, naming the variables', async () => {
    const config = loadConfig(
      testEnv(prefix, {
        NODE_ENV: 'production',
        SMTP_HOST: '127.0.0.1',
        FROM_ADDRESS: 'a@example.com',
        LEDGER_ENABLED: 'false',
      }),
    );
    const starting = startMonitor(config, createLogger({ level: 'silent' }), { port: 0, host: '127.0.0.1' });
    await expect(starting).rejects.toBeInstanceOf(ConfigError);
    await expect(starting).rejects.toThrow(
      /MONITOR_USER, MONITOR_PASSWORD: required in production[\s\S]*API_TOKEN/,
    );
  });

  it('is open in development and says so on every page, and the API is open too', async () => {
    const open = await startTestMonitor(prefix, { OUTBOX_DIR: outboxDir });
    try {
      for (const path of ['/workers', '/templates', '/outbox', '/deliveries']) {
        const response = await open.request(path);
        expect(response.status, path).toBe(200);
        expect(response.text, path).toContain('Open monitor: no login is configured');
      }
      const board = await open.request('/queues/');
      expect(board.status).toBe(200);
      expect(board.text).toContain('Open monitor: no login is configured');
      expect((await open.request('/api/stats')).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
