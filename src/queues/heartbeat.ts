/**
 * Live workers, as Flower shows them: every worker process (and any other process that feeds the queues, such
 * as the Celery bridge) publishes a heartbeat to Redis; the monitor's `/workers` and `/api/stats` read them.
 *
 * The shape in Redis, beside the `system` queue's keys (`<prefix>` is QUEUE_PREFIX, `bull` by default; in a
 * Redis Cluster it is the queue's hash tag `{<prefix>:system}`, so both keys share the queue's slot):
 *   <prefix>:system:heartbeats        sorted set: member = process id, score = last heartbeat (epoch ms)
 *   <prefix>:system:heartbeat:<id>    string: the JSON {@link Heartbeat}, expiring after an hour
 * A publisher writes both every `interval_ms` in one MULTI. A process whose last heartbeat is older than three intervals, or that wrote `stopped_at` on its way out,
 * is gone; entries older than an hour are dropped.
 *
 * The bridges (src/bridges/heartbeat.ts) keep a record of their own, `<prefix>:bridges:<name>`, that expires
 * three intervals after their last heartbeat; {@link listWorkers} reads those too, as alive.
 */
import { hostname } from 'node:os';
import type { RedisTarget } from '../config.js';
import { dataNodes, queuePrefix, type RedisConnection } from './connection.js';
import type { Logger } from '../logger.js';

export interface Heartbeat {
  /** Unique per process: `<name>:<pid>:<start time>`. */
  id: string;
  /** `email-workers` for a worker process; a bridge publishes `celery-bridge`. */
  kind: string;
  name: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  started_at: string;
  last_heartbeat: string;
  interval_ms: number;
  jobs_processed: number;
  jobs_failed: number;
  /** Set by the last heartbeat of a process that shut down cleanly. */
  stopped_at?: string;
}

export interface WorkerStatus extends Heartbeat {
  alive: boolean;
  uptime_s: number;
}

const RECORD_TTL_S = 3_600;
const GONE_AFTER_INTERVALS = 3;

export const heartbeatKeys = (target: QueueTarget) => {
  const base = `${queuePrefix(target, 'system')}:system`;
  return { index: `${base}:heartbeats`, record: (id: string) => `${base}:heartbeat:${id}` };
};

/** What names the keys: Redis' mode and QUEUE_PREFIX. */
export type QueueTarget = Pick<RedisTarget, 'mode' | 'prefix'>;

export interface HeartbeatSource {
  kind: string;
  name: string;
  queues: readonly string[];
  concurrency: number;
  /** Read at each beat. */
  counts(): { jobs_processed: number; jobs_failed: number };
}

export interface HeartbeatPublisher {
  readonly id: string;
  /** Writes a last heartbeat with `stopped_at`, so the monitor shows the process gone at once. */
  stop(): Promise<void>;
}

export function startHeartbeat(
  redis: RedisConnection,
  target: QueueTarget,
  source: HeartbeatSource,
  intervalMs: number,
  logger: Logger,
): HeartbeatPublisher {
  const started = new Date();
  const id = `${source.name}:${process.pid}:${started.getTime()}`;
  const keys = heartbeatKeys(target);
  const beat = async (stoppedAt?: Date) => {
    const now = new Date();
    const heartbeat: Heartbeat = {
      id,
      kind: source.kind,
      name: source.name,
      host: hostname(),
      pid: process.pid,
      queues: [...source.queues],
      concurrency: source.concurrency,
      started_at: started.toISOString(),
      last_heartbeat: now.toISOString(),
      interval_ms: intervalMs,
      ...source.counts(),
      ...(stoppedAt ? { stopped_at: stoppedAt.toISOString() } : {}),
    };
    await redis
      .multi()
      .set(keys.record(id), JSON.stringify(heartbeat), 'EX', RECORD_TTL_S)
      .zadd(keys.index, now.getTime(), id)
      .zremrangebyscore(keys.index, '-inf', now.getTime() - RECORD_TTL_S * 1000)
      .exec();
  };
  const publish = () =>
    beat().catch((error: Error) => logger.debug({ err: error.message }, 'heartbeat not published'));
  void publish();
  const timer = setInterval(publish, intervalMs);
  timer.unref();
  return {
    id,
    async stop() {
      clearInterval(timer);
      await beat(new Date()).catch(() => undefined);
    },
  };
}

/** Every process that published within the last hour, newest first, each marked alive or gone; then the bridges. */
export async function listWorkers(
  redis: RedisConnection,
  target: QueueTarget,
  now = Date.now(),
): Promise<WorkerStatus[]> {
  const keys = heartbeatKeys(target);
  const ids = await redis.zrevrangebyscore(keys.index, '+inf', now - RECORD_TTL_S * 1000);
  const records = ids.length ? await redis.mget(ids.map((id) => keys.record(id))) : [];
  const workers = records.flatMap((text) => {
    if (!text) return [];
    try {
      const heartbeat = JSON.parse(text) as Heartbeat;
      const last = Date.parse(heartbeat.last_heartbeat);
      const alive =
        !heartbeat.stopped_at && now - last <= GONE_AFTER_INTERVALS * Math.max(heartbeat.interval_ms, 1_000);
      const uptime_s = Math.round(
        ((heartbeat.stopped_at ? Date.parse(heartbeat.stopped_at) : now) - Date.parse(heartbeat.started_at)) /
          1000,
      );
      return [{ ...heartbeat, alive, uptime_s }];
    } catch {
      return [];
    }
  });
  return [...workers, ...(await listBridges(redis, target.prefix, now))];
}

/** A bridge's record, as src/bridges/heartbeat.ts writes it. */
interface BridgeRecord {
  name: string;
  kind: string;
  host: string;
  pid: number;
  queues: string[];
  started: string;
  last_heartbeat: string;
  counts: { bridged: number; rejected: number; acknowledged: number };
}

/** The bridges' records expire with their heartbeats: each one found is alive. */
async function listBridges(redis: RedisConnection, prefix: string, now: number): Promise<WorkerStatus[]> {
  const keys: string[] = [];
  // In a Cluster the records live on every master: each is scanned.
  for (const node of dataNodes(redis)) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', `${prefix}:bridges:*`, 'COUNT', 200);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0' && keys.length < 1_000);
  }
  const records = await Promise.all(keys.map((key) => redis.get(key)));
  return records.flatMap((text) => {
    if (!text) return [];
    try {
      const bridge = JSON.parse(text) as BridgeRecord;
      return [
        {
          id: `${bridge.name}:${bridge.pid}`,
          kind: bridge.kind,
          name: bridge.name,
          host: bridge.host,
          pid: bridge.pid,
          queues: bridge.queues,
          concurrency: 1,
          started_at: bridge.started,
          last_heartbeat: bridge.last_heartbeat,
          interval_ms: 5_000,
          jobs_processed: bridge.counts.bridged,
          jobs_failed: bridge.counts.rejected,
          alive: true,
          uptime_s: Math.round((now - Date.parse(bridge.started)) / 1000),
        },
      ];
    } catch {
      return [];
    }
  });
}
