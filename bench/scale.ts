/**
 * The cost of scale (`npm run bench -- --scale-only`, and part of the full run): what Redis holds per waiting and
 * per retained completed job, what the retention defaults cap it at, what the ledger holds per row and in its
 * indexes at 1,000,000 rows, and how long a claim takes then against an empty table.
 *
 * Redis: the bytes are Σ `MEMORY USAGE` over the run's own keys (other clients of a shared Redis do not count),
 * with `INFO memory`'s used_memory delta beside it. The jobs are the benchmark's mix enqueued by the typed client,
 * then completed by a plain BullMQ worker that returns a result of the service's shape and keeps every job.
 * PostgreSQL: the ledger's migrations in a schema of its own, 1,000,000 `sent` rows made by one
 * `INSERT … SELECT … generate_series`, then VACUUM ANALYZE and the sizes from pg_relation_size.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { createEmailClient, type EnqueueRequest, type TaskName } from '@email-workers/client';
import { createLedger } from '../src/db/ledger/index.js';
import { migrate } from '../src/db/migrate.js';
import { removePrefix } from '../test/helpers/redis.js';
import { payloadFor, QUEUE_OF, taskAt } from './workload.js';

const EMAIL_QUEUES = ['auth_emails', 'booking_emails', 'waitlist_emails'];
/** The retention defaults (README): completed jobs kept per queue, events per queue's stream. */
const COMPLETED_KEPT = 10_000;
const EVENTS_KEPT = 10_000;
const QUEUES_WITH_EVENTS = 4;

export interface RedisCost {
  jobs: number;
  waitingBytesPerJob: number;
  completedBytesPerJob: number;
  /** The same from INFO memory (used_memory delta): includes whatever else the server did meanwhile. */
  waitingBytesPerJobInfo: number;
  completedBytesPerJobInfo: number;
  eventBytesPerEntry: number;
  /** Completed jobs at COMPLETED_JOB_RETENTION_COUNT on the three email queues, plus full events streams. */
  retentionCapMb: number;
}

export async function redisCost(redisUrl: string, jobs: number): Promise<RedisCost> {
  const prefix = `bench-scale-${process.pid}`;
  await removePrefix(prefix, redisUrl);
  const redis = new Redis(redisUrl);
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  /** Σ MEMORY USAGE over the prefix's keys, and the events streams' share. */
  const ownBytes = async () => {
    let cursor = '0';
    let total = 0;
    let events = 0;
    let eventEntries = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
      cursor = next;
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
      const sizes = (await pipeline.exec())!.map(([, size]) => Number(size ?? 0));
      for (let i = 0; i < keys.length; i++) {
        total += sizes[i]!;
        if (keys[i]!.endsWith(':events')) {
          events += sizes[i]!;
          eventEntries += await redis.xlen(keys[i]!);
        }
      }
    } while (cursor !== '0');
    return { total, events, eventEntries };
  };
  try {
    const infoBefore = await usedMemory();
    const client = createEmailClient({ redisUrl, prefix, timeoutMs: 30_000 });
    for (let from = 0; from < jobs; from += 1000) {
      const batch: EnqueueRequest[] = Array.from({ length: Math.min(1000, jobs - from) }, (_, k) => {
        const task = taskAt(from + k);
        return { name: task as TaskName, payload: payloadFor(task, from + k) as never };
      });
      await client.enqueueMany(batch);
    }
    await client.close();
    const waiting = await ownBytes();
    const infoWaiting = await usedMemory();

    // Completed and kept, each with a result of the service's shape.
    const workers = EMAIL_QUEUES.map(
      (queue) =>
        new Worker(
          queue,
          async (job) => ({
            success: true,
            email: `user${job.id}@bench.example.com`,
            user_id: 42,
            timestamp: new Date().toISOString(),
            message_id: `<${job.id}.0123456789abcdef@events.example.com>`,
            smtp_response: '250 OK: message queued',
          }),
          {
            connection: { url: redisUrl, maxRetriesPerRequest: null },
            prefix,
            concurrency: 200,
            removeOnComplete: { count: 10_000_000 },
          },
        ),
    );
    const queues = EMAIL_QUEUES.map((name) => new Queue(name, { connection: { url: redisUrl }, prefix }));
    for (;;) {
      const done = await Promise.all(queues.map((queue) => queue.getCompletedCount()));
      if (done.reduce((a, b) => a + b, 0) >= jobs) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await Promise.all(workers.map((worker) => worker.close()));
    await Promise.all(queues.map((queue) => queue.close()));
    const completed = await ownBytes();
    const infoCompleted = await usedMemory();

    // Events are capped (EVENTS_MAX_LEN), jobs are not: the per-job figures leave the streams out.
    const eventBytesPerEntry = completed.events / Math.max(1, completed.eventEntries);
    const completedBytesPerJob = (completed.total - completed.events) / jobs;
    return {
      jobs,
      waitingBytesPerJob: (waiting.total - waiting.events) / jobs,
      completedBytesPerJob,
      waitingBytesPerJobInfo: (infoWaiting - infoBefore) / jobs,
      completedBytesPerJobInfo: (infoCompleted - infoBefore) / jobs,
      eventBytesPerEntry,
      retentionCapMb:
        (EMAIL_QUEUES.length * COMPLETED_KEPT * completedBytesPerJob +
          QUEUES_WITH_EVENTS * EVENTS_KEPT * eventBytesPerEntry) /
        2 ** 20,
    };
  } finally {
    redis.disconnect();
    await removePrefix(prefix, redisUrl);
  }
}

export interface LedgerCost {
  rows: number;
  bytesPerRow: number;
  tableMb: number;
  indexesMb: Record<string, number>;
  totalMb: number;
  claimEmpty: ClaimLatency;
  claimFull: ClaimLatency;
}

interface ClaimLatency {
  claims: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

const CLAIMS = 2_000;

export async function ledgerCost(pool: pg.Pool, rows: number): Promise<LedgerCost> {
  const schema = `bench_scale_${process.pid}`;
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await migrate(pool, schema);
  const ledger = createLedger(pool, schema);
  const table = `${schema}.email_deliveries`;
  try {
    // Warm-up: connections, plans.
    await claims(ledger, 'warm', 200);
    await pool.query(`TRUNCATE ${table}`);
    const claimEmpty = await claims(ledger, 'empty', CLAIMS);
    await pool.query(`TRUNCATE ${table}`);
    // Rows shaped like the service's: a sent booking confirmation each, keys and ids of realistic length.
    await pool.query(
      `INSERT INTO ${table} (idempotency_key, job_id, queue, task, recipient, subject, status, attempts,
                             message_id, smtp_response, correlation_id, lease_until, attempt_token,
                             created_at, updated_at, sent_at)
       SELECT 'send_booking_confirmation:booking-' || g || ':' || substr(md5(g::text), 1, 8),
              'booking-' || g, 'booking_emails', 'send_booking_confirmation',
              'user' || (g % 100000) || '@bench.example.com', 'Booking confirmed: JSConf EU', 'sent', 1,
              '<' || md5(g::text) || '@events.example.com>', '250 2.0.0 Ok: queued as ' || substr(md5(g::text), 1, 10),
              'corr-' || substr(md5(g::text), 1, 12), now() + interval '70 seconds', md5(g::text || 't'),
              now() - make_interval(secs => g), now() - make_interval(secs => g), now() - make_interval(secs => g)
         FROM generate_series(1, $1::int) AS g`,
      [rows],
    );
    await pool.query(`VACUUM ANALYZE ${table}`);
    const claimFull = await claims(ledger, 'full', CLAIMS);
    const sizes = await pool.query<{ name: string; bytes: string }>(
      `SELECT c.relname AS name, pg_relation_size(c.oid)::text AS bytes
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = $1::regclass`,
      [table],
    );
    const [{ heap, total }] = (
      await pool.query<{ heap: string; total: string }>(
        `SELECT pg_table_size($1::regclass)::text AS heap, pg_total_relation_size($1::regclass)::text AS total`,
        [table],
      )
    ).rows as [{ heap: string; total: string }];
    const count = rows + CLAIMS;
    return {
      rows,
      bytesPerRow: Number(total) / count,
      tableMb: Number(heap) / 2 ** 20,
      indexesMb: Object.fromEntries(sizes.rows.map((row) => [row.name, Number(row.bytes) / 2 ** 20])),
      totalMb: Number(total) / 2 ** 20,
      claimEmpty,
      claimFull,
    };
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}

/** `count` claims of new keys one after another, as one job's claim: one statement each. */
async function claims(
  ledger: ReturnType<typeof createLedger>,
  label: string,
  count: number,
): Promise<ClaimLatency> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const task = taskAt(i);
    const started = performance.now();
    const result = await ledger.claim(
      {
        key: `${task}:${label}-${i}-${process.pid}`,
        jobId: `${label}-${i}`,
        queue: QUEUE_OF[task],
        task,
        correlationId: undefined,
        leaseMs: 70_000,
        uncertain: 'resend',
      },
      `user${i}@bench.example.com`,
      `token-${label}-${i}`,
    );
    times.push(performance.now() - started);
    if (result.status !== 'claimed') throw new Error(`claim ${label}-${i}: ${result.status}`);
  }
  times.sort((a, b) => a - b);
  return {
    claims: count,
    p50Ms: times[Math.floor(count * 0.5)]!,
    p99Ms: times[Math.floor(count * 0.99)]!,
    meanMs: times.reduce((a, b) => a + b, 0) / count,
  };
}
