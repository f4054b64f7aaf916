/**
 * The README's Python snippets ("Enqueue from Python"), run as written with Debian's python3: the task API one
 * (standard library only) enqueues, prints the job id, and a second run replays the same Idempotency-Key; the
 * Celery one (python3-celery) sends through the real bridge to the real workers and gets the result back.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCeleryBridge, type RunningBridge } from '../../src/bridges/celery-bridge.js';
import { loadBridgeConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { removeCeleryKeys, uniqueCeleryQueue } from '../helpers/celery.js';
import { API_TOKEN, monitorEnv, startTestMonitor, type TestMonitor } from '../helpers/monitor.js';
import { removePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { smtpEnv, startTestWorkers, testEnv, type TestWorkers } from '../helpers/workers.js';

const PYTHON = '/usr/bin/python3';
const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
const snippet = /<!-- api-python-snippet -->\n```python\n([\s\S]*?)```/.exec(readme)?.[1];
const celerySnippet = /<!-- celery-python-snippet -->\n```python\n([\s\S]*?)```/.exec(readme)?.[1];

const prefix = uniquePrefix('python');
let m: TestMonitor;

beforeAll(async () => {
  m = await startTestMonitor(prefix, monitorEnv);
});

afterAll(async () => {
  await m?.close();
  await removePrefix(prefix);
});

function runPython(
  code: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(PYTHON, ['-'], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', fail);
    child.on('close', (exit) => done({ code: exit, stdout, stderr }));
    child.stdin.end(code);
  });
}

describe("the README's Python snippet", () => {
  it('is in the README', () => {
    expect(snippet).toMatch(/urllib\.request/);
  });

  it('enqueues through the API, and a second run replays the same key', async () => {
    const env = { API_TOKEN, EMAIL_WORKERS_API: `${m.monitor.url}/api` };
    const first = await runPython(snippet!, env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toBe('send_booking_confirmation~booking%3ABK-7 queued');
    const job = (
      await m.request(`/api/jobs/${encodeURIComponent('send_booking_confirmation~booking%3ABK-7')}`, {
        auth: `Bearer ${API_TOKEN}`,
      })
    ).json();
    expect(job).toMatchObject({
      task: 'send_booking_confirmation',
      queue: 'booking_emails',
      state: 'waiting',
    });
    const second = await runPython(snippet!, env);
    expect(second.code).toBe(0);
    expect(second.stdout.trim()).toBe('send_booking_confirmation~booking%3ABK-7 queued');
  });

  it('raises the API error for a bad token', async () => {
    const run = await runPython(snippet!, {
      API_TOKEN: 'wrong-token-wrong-token',
      EMAIL_WORKERS_API: `${m.monitor.url}/api`,
    });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/RuntimeError: \{'code': 'UNAUTHORIZED'/);
  });
});

describe("the README's Celery snippet", () => {
  const queue = uniqueCeleryQueue('readme');
  const taskIds: string[] = [];
  let smtp: SmtpSink;
  let workers: TestWorkers;
  let bridge: RunningBridge;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    workers = await startTestWorkers('python-celery', smtpEnv(smtp));
    const config = loadBridgeConfig(
      testEnv(workers.prefix, {
        CELERY_BROKER_URL: TEST_REDIS_URL,
        CELERY_QUEUES: queue,
        CELERY_RESULT_BACKEND: TEST_REDIS_URL,
      }),
    );
    bridge = await startCeleryBridge(config, createLogger({ level: 'silent' }), { name: `test-${queue}` });
  });

  afterAll(async () => {
    await bridge?.close();
    await workers?.stop();
    await smtp?.close();
    await removeCeleryKeys(TEST_REDIS_URL, [queue], taskIds);
  });

  it('is in the README', () => {
    expect(celerySnippet).toMatch(/send_task/);
  });

  it('sends through the bridge, the workers deliver, and AsyncResult.get() returns the result', async () => {
    const run = await runPython(celerySnippet!, {
      CELERY_BROKER_URL: TEST_REDIS_URL,
      CELERY_RESULT_BACKEND: TEST_REDIS_URL,
      EMAIL_QUEUE: queue,
      LANG: 'C.UTF-8',
    });
    const [id, ...rest] = run.stdout.trim().split(' ');
    if (id) taskIds.push(id);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(rest.join(' ')).toBe('True ada@example.com True');
    expect(smtp.messages.map((m) => (m.to && 'value' in m.to ? m.to.value[0]?.address : undefined))).toEqual([
      'ada@example.com',
    ]);
  });
});
