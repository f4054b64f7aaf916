/**
 * Redis Cluster: three masters of the test's own that answer only to an ACL user. The workers, the typed client
 * and a plain BullMQ producer reach them through REDIS_CLUSTER_NODES; every task is delivered and recorded once,
 * and each queue lives in a slot of its own, spread over the masters.
 */
import { DEAD_LETTER_QUEUE } from '../../src/queues/dead-letter.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { Queue } from 'bullmq';
import { createEmailClient, type EmailClient } from '@email-workers/client';
import { loadConfig } from '../../src/config.js';
import { StartupError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { startWorkers } from '../../src/queues/start-workers.js';
import { QUEUE_NAMES } from '../../src/tasks/define-task.js';
import { TASK_NAMES } from '../../src/tasks/registry.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { startRedisCluster, type OwnCluster } from '../helpers/redis-cluster.js';
import { ACL_PASSWORD, ACL_USER, nodeClient } from '../helpers/redis-nodes.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { deliverEveryTask, recipientOf } from '../helpers/jobs.js';
import { databaseEnv, smtpEnv, startTestWorkers, testEnv, type TestWorkers } from '../helpers/workers.js';

let cluster: OwnCluster;
let smtp: SmtpSink;
let db: TestSchema;
let w: TestWorkers;
let client: EmailClient;

const clusterEnv = () => ({
  REDIS_CLUSTER_NODES: cluster.nodes.map(({ host, port }) => `${host}:${port}`).join(','),
  REDIS_URL: cluster.url,
  // The cluster is this file's own: the default prefix, so the spread checked below is the one users get.
  QUEUE_PREFIX: 'bull',
});

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  smtp = await startSmtpSink();
  db = await createTestSchema('cluster');
  await db.addUser({ id: 42, email: 'grace@example.com', full_name: 'Grace Hopper' });
  w = await startTestWorkers('cluster', { ...smtpEnv(smtp), ...databaseEnv(db), ...clusterEnv() });
  client = createEmailClient({ redis: w.config.redis });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await w?.stop();
  await smtp?.close();
  await db?.drop();
  await cluster?.stop();
});

describe('with REDIS_CLUSTER_NODES', () => {
  it('delivers every task enqueued by the typed client, each recorded once in the ledger', async () => {
    const results = await deliverEveryTask(client, w, 'cluster');
    expect(results.filter((result) => result.success === true)).toHaveLength(TASK_NAMES.length - 1);
    expect(results.at(-1)).toMatchObject({ status: 'healthy', components: { redis: { ok: true } } });

    const { rows } = await db.pool.query<{ task: string; status: string }>(
      `SELECT task, status FROM ${db.schema}.email_deliveries ORDER BY task`,
    );
    const emailTasks = TASK_NAMES.filter((name) => name !== 'health_check');
    expect(rows).toEqual([...emailTasks].sort().map((task) => ({ task, status: 'sent' })));
    expect(smtp.messages).toHaveLength(emailTasks.length);
  });

  it('delivers a job from a plain BullMQ producer that passes the documented prefix', async () => {
    // As the README tells a producer: a Cluster connection and prefix `{<QUEUE_PREFIX>:<queue>}`.
    const connection = new Cluster(cluster.nodes, {
      redisOptions: { username: ACL_USER, password: ACL_PASSWORD },
    });
    const queue = new Queue('booking_emails', { connection, prefix: '{bull:booking_emails}' });
    try {
      await queue.add('send_booking_cancellation', {
        user_id: 42,
        email: 'plain@example.com',
        cancellation_data: { event_name: 'PyCon', booking_id: 'BK-9' },
      });
      const messages = await smtp.waitForMessages(TASK_NAMES.length, 20_000);
      expect(messages.map(recipientOf)).toContain('plain@example.com');
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  it('keeps each queue in a slot of its own, and the four queues on all three masters', async () => {
    const mastersOfQueue = new Map<string, Set<number>>();
    for (const { port } of cluster.nodes) {
      const node = nodeClient(port);
      try {
        const keys = await node.keys('*');
        for (const key of keys) {
          const tag = /^\{bull:(\w+)\}:\1:/.exec(key)?.[1];
          expect(tag, `key ${key} is under a queue's hash tag`).toBeDefined();
          // The service-wide keys have tags of their own: deliverability (RECIPIENT_LIMITS, EMAIL_RATE_LIMIT), and
          // the dead-letter queue with the positions its listeners have read the failed sets up to.
          if (tag === 'limits' || tag === 'quota' || tag === DEAD_LETTER_QUEUE) continue;
          mastersOfQueue.set(tag!, (mastersOfQueue.get(tag!) ?? new Set()).add(port));
        }
      } finally {
        node.disconnect();
      }
    }
    expect([...mastersOfQueue.keys()].sort()).toEqual([...QUEUE_NAMES].sort());
    // All of a queue's keys on one master (one slot); the queues on three different masters.
    expect([...mastersOfQueue.values()].map((ports) => ports.size)).toEqual(QUEUE_NAMES.map(() => 1));
    const masters = new Set([...mastersOfQueue.values()].flatMap((ports) => [...ports]));
    expect(masters.size).toBe(3);
    for (const queue of QUEUE_NAMES) {
      expect([...mastersOfQueue.get(queue)!]).toEqual([await cluster.masterOf(`{bull:${queue}}`)]);
    }
  });

  it('refuses to start in production when any master may evict keys, naming it', async () => {
    const evicting = cluster.nodes[1]!;
    const node = nodeClient(evicting.port);
    await node.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const config = loadConfig({
        ...testEnv('unused', { ...smtpEnv(smtp), ...databaseEnv(db), ...clusterEnv() }),
        NODE_ENV: 'production',
      });
      const logger = createLogger({ level: 'silent' });
      const started = startWorkers(config, logger, { queues: ['system'] });
      await expect(started).rejects.toThrow(StartupError);
      await expect(started).rejects.toThrow(`allkeys-lru on 127.0.0.1:${evicting.port}`);
    } finally {
      await node.config('SET', 'maxmemory-policy', 'noeviction');
      node.disconnect();
    }
  });
});
