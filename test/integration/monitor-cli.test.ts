/**
 * `start-workers --monitor` as a process: it serves the monitor on MONITOR_PORT, exits 0 on SIGTERM, and in
 * production refuses to start without logins, one line per missing variable.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';
import { API_TOKEN, basic, bearer, monitorEnv, OPERATOR } from '../helpers/monitor.js';
import { removePrefix, uniquePrefix } from '../helpers/redis.js';
import { closedPort } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { testEnv } from '../helpers/workers.js';

const prefix = uniquePrefix('monitor-cli');

afterAll(async () => {
  await removePrefix(prefix);
});

describe('start-workers --monitor', () => {
  it('serves the board, the API (enqueue included) and /health under MONITOR_BASE_PATH, and exits 0 on SIGTERM', async () => {
    const port = await closedPort();
    const cli = spawnCli(
      ['--monitor'],
      testEnv(prefix, {
        ...monitorEnv,
        MONITOR_PORT: String(port),
        MONITOR_BASE_PATH: '/ops',
        LOG_LEVEL: 'info',
      }),
    );
    try {
      await waitFor(() => cli.stdout().includes('monitor listening'), {
        timeoutMs: 20_000,
        what: 'the monitor',
      });
      const base = `http://127.0.0.1:${port}/ops`;
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect((await fetch(`${base}/queues/`)).status).toBe(401);
      const board = await fetch(`${base}/queues/`, { headers: { authorization: basic(OPERATOR) } });
      expect(board.status).toBe(200);
      // Bull Board's assets and API calls resolve under the base path too.
      expect(await board.text()).toContain('<base href="/ops/queues/"');
      const stats = await fetch(`${base}/api/stats`, { headers: { authorization: bearer(API_TOKEN) } });
      expect(stats.status).toBe(200);
      const enqueued = await fetch(`${base}/api/tasks/send_welcome_email`, {
        method: 'POST',
        headers: { authorization: bearer(API_TOKEN), 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'base-path@example.com' }),
      });
      expect(enqueued.status).toBe(202);
      expect(await enqueued.json()).toMatchObject({ task: 'send_welcome_email', status: 'queued' });
      expect(cli.stdout()).not.toContain('workers started');
    } finally {
      cli.child.kill('SIGTERM');
    }
    expect(await cli.exited).toBe(0);
  });

  it('refuses to start in production without logins, naming each variable', async () => {
    const cli = spawnCli(
      ['--monitor'],
      testEnv(prefix, {
        NODE_ENV: 'production',
        SMTP_HOST: '127.0.0.1',
        FROM_ADDRESS: 'no-reply@example.com',
        LEDGER_ENABLED: 'false',
      }),
    );
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toMatch(/^ {2}MONITOR_USER, MONITOR_PASSWORD: required in production/m);
    expect(cli.stderr()).toMatch(/^ {2}API_TOKEN: required in production/m);
  });
});
