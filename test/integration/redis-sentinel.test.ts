/**
 * Redis Sentinel: a master and a replica of the test's own (ACL user) behind three sentinels (a password of
 * their own). The workers and the typed client find the master through REDIS_SENTINELS; every task is
 * delivered; when the master dies mid-run the sentinels promote the replica and the workers carry on with it
 * within 15 s. Replication is asynchronous, so an enqueue the old master acknowledged may not have reached the
 * replica: the test lists those from the ledger and checks they are only the last writes before the crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmailClient, type EmailClient } from '@email-workers/client';
import { TASK_NAMES } from '../../src/tasks/registry.js';
import { deliverEveryTask, recipientOf } from '../helpers/jobs.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { SENTINEL_PASSWORD, startSentinelSet, type OwnSentinelSet } from '../helpers/redis-sentinel.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';

let set: OwnSentinelSet;
let smtp: SmtpSink;
let db: TestSchema;
let w: TestWorkers;
let client: EmailClient;

beforeAll(async () => {
  set = await startSentinelSet();
  smtp = await startSmtpSink();
  db = await createTestSchema('sentinel');
  await db.addUser({ id: 42, email: 'grace@example.com', full_name: 'Grace Hopper' });
  w = await startTestWorkers('sentinel', {
    ...smtpEnv(smtp),
    ...databaseEnv(db),
    REDIS_SENTINELS: set.sentinels.map(({ host, port }) => `${host}:${port}`).join(','),
    REDIS_SENTINEL_NAME: set.masterName,
    REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
    REDIS_URL: set.url,
  });
  client = createEmailClient({ redis: w.config.redis });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await w?.stop();
  await smtp?.close();
  await db?.drop();
  await set?.stop();
});

const sentRecipients = async () => {
  const { rows } = await db.pool.query<{ recipient: string }>(
    `SELECT recipient FROM ${db.schema}.email_deliveries WHERE status = 'sent'`,
  );
  return new Set(rows.map((row) => row.recipient));
};

describe('with REDIS_SENTINELS', () => {
  it('delivers every task through the master the sentinels name', async () => {
    const results = await deliverEveryTask(client, w, 'sentinel');
    expect(results.filter((result) => result.success === true)).toHaveLength(TASK_NAMES.length - 1);
    expect(results.at(-1)).toMatchObject({ status: 'healthy' });
    const { rows } = await db.pool.query(`SELECT 1 FROM ${db.schema}.email_deliveries WHERE status = 'sent'`);
    expect(rows).toHaveLength(TASK_NAMES.length - 1);
  });

  it('carries on with the promoted replica within 15 s of the master dying; only the last writes are lost', async () => {
    const acknowledged: Array<{ i: number; to: string; jobId: string; at: number }> = [];
    let producing = true;
    let killedAt = Infinity;
    let resumedAfterMs: number | undefined;
    // One producer, one enqueue at a time: acknowledgement order is write order on the master.
    const producer = (async () => {
      for (let i = 0; producing; i++) {
        const to = `failover-${i}@example.com`;
        try {
          const jobId = await client.enqueue(
            'send_welcome_email',
            { email: to },
            { idempotencyKey: `failover-${i}` },
          );
          acknowledged.push({ i, to, jobId, at: Date.now() });
        } catch {
          // Not acknowledged (Redis unreachable, or the write unconfirmed): no promise was made for it.
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    try {
      await waitFor(async () => (await sentRecipients()).size >= 20, {
        what: '20 deliveries before the crash',
      });
      const oldMaster = await set.killMaster();
      killedAt = Date.now();

      // Carrying on: an email enqueued after the crash is delivered within 15 s of it.
      let promotedAfterMs: number | undefined;
      const resumed = await waitFor(
        async () => {
          if (
            promotedAfterMs === undefined &&
            (await set.masterPort().catch(() => oldMaster)) !== oldMaster
          ) {
            promotedAfterMs = Date.now() - killedAt;
          }
          const sent = await sentRecipients();
          return acknowledged.some((a) => a.at > killedAt && sent.has(a.to)) && Date.now();
        },
        { timeoutMs: 15_000, intervalMs: 100, what: 'a delivery of an enqueue made after the master died' },
      ).catch((error: Error) => {
        // Whose part was slow: the sentinels' election, or the workers and the client following it.
        const after = acknowledged.filter((a) => a.at > killedAt).length;
        throw new Error(
          `${error.message} (the sentinels named a new master ${promotedAfterMs ?? 'never'} ms after the crash; ` +
            `${after} enqueues acknowledged since)`,
        );
      });
      resumedAfterMs = resumed - killedAt;
      expect(resumedAfterMs).toBeLessThan(15_000);
      expect(await set.masterPort()).not.toBe(oldMaster);
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      producing = false;
      await producer;
    }

    // Every acknowledged enqueue ends sent, or is gone from Redis altogether (lost with the old master).
    const queue = w.queue('auth_emails');
    const lost = await waitFor(
      async () => {
        const sent = await sentRecipients();
        const missing: typeof acknowledged = [];
        for (const a of acknowledged.filter((a) => !sent.has(a.to))) {
          if (await queue.getJob(a.jobId)) return false; // still on its way
          missing.push(a);
        }
        return missing;
      },
      { timeoutMs: 45_000, intervalMs: 250, what: 'every acknowledged enqueue sent or known lost' },
    );
    console.log(
      `sentinel failover: delivering again ${resumedAfterMs} ms after the crash; ` +
        `${acknowledged.length} enqueues acknowledged, ${lost.length} lost with the old master` +
        (lost.length ? ` (${lost.map((a) => a.to).join(', ')})` : ''),
    );
    // What asynchronous replication can lose: writes the old master acknowledged before it died and had not yet
    // passed on, so the newest of them, never one the new master acknowledged.
    const beforeCrash = acknowledged.filter((a) => a.at <= killedAt);
    expect(lost.every((a) => a.at <= killedAt)).toBe(true);
    expect(lost.map((a) => a.i)).toEqual(beforeCrash.slice(beforeCrash.length - lost.length).map((a) => a.i));
    // Nothing twice: each recipient got at most one message.
    const recipients = smtp.messages.map(recipientOf).filter((to) => to?.startsWith('failover-'));
    expect(recipients.length).toBe(new Set(recipients).size);
  }, 90_000);
});
