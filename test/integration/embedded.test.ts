/**
 * With no database configured, `start-workers` starts an embedded PostgreSQL, migrates it and delivers a
 * user_id task for a user that `start-workers seed-users` added.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { smtpEnv } from '../helpers/workers.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';
import { removePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { closedPort, startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';

let smtp: SmtpSink;
let dataDir: string;
let env: Record<string, string>;
const prefix = uniquePrefix('embedded');

beforeAll(async () => {
  smtp = await startSmtpSink();
  dataDir = mkdtempSync(join(tmpdir(), 'embedded-pg-'));
  // Reachable by the postgres user (mkdtemp makes it 0700), so the data stays in it and goes with it.
  chmodSync(dataDir, 0o755);
  env = {
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    ...smtpEnv(smtp),
    EMBEDDED_DATABASE_DIR: join(dataDir, 'pgdata'),
    EMBEDDED_DATABASE_PORT: String(await closedPort()),
    NODE_ENV: 'development',
  };
});

afterAll(async () => {
  await smtp?.close();
  await removePrefix(prefix);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the embedded database', () => {
  it('is started, migrated and used for user_id tasks when no database is configured', async () => {
    const seed = spawnCli(['seed-users'], env);
    expect(await seed.exited, seed.stderr()).toBe(0);
    expect(seed.stdout()).toMatch(/seeded 4 users/);

    const workers = spawnCli([], env);
    const queue = new Queue('booking_emails', { connection: { url: TEST_REDIS_URL }, prefix });
    try {
      await waitFor(() => workers.stdout().includes('workers started'), {
        timeoutMs: 30_000,
        what: 'workers',
      });
      expect(workers.stdout()).toMatch(/migrations applied/);
      await queue.add('send_booking_confirmation', { user_id: 1, booking_data: { event_name: 'Embedded' } });
      const [mail] = await smtp.waitForMessages(1, 20_000);
      expect(mail!.to && 'value' in mail!.to ? mail!.to.value[0]?.address : '').toBe('ada@example.com');
      expect(mail!.subject).toMatch(/Embedded/);
    } finally {
      await queue.close();
      workers.child.kill('SIGTERM');
    }
    expect(await workers.exited).toBe(0);
  });

  it('lists the delivery in the ledger with `start-workers deliveries`', async () => {
    const list = spawnCli(['deliveries', '--to', 'ada@example.com', '--json'], env);
    expect(await list.exited, list.stderr()).toBe(0);
    const rows = list
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(rows).toEqual([expect.objectContaining({ status: 'sent', task: 'send_booking_confirmation' })]);
  });
});
