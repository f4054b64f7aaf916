/**
 * The README's Python snippet, run as written with Debian's python3 (standard library only) against the real
 * task API: it enqueues, prints the job id, and a second run replays the same Idempotency-Key.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_TOKEN, monitorEnv, startTestMonitor, type TestMonitor } from '../helpers/monitor.js';
import { removePrefix, uniquePrefix } from '../helpers/redis.js';

const PYTHON = '/usr/bin/python3';
const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
const snippet = /<!-- api-python-snippet -->\n```python\n([\s\S]*?)```/.exec(readme)?.[1];

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
