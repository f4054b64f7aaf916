/**
 * A bridge's record in Redis, for the monitor's /workers page: the key `<QUEUE_PREFIX>:bridges:<name>` holds
 *
 *   { name, kind: 'celery-bridge' | 'stream-bridge', host, pid, queues, started, last_heartbeat,
 *     counts: { bridged, rejected, acknowledged }, queue_counts: { <queue>: { bridged, rejected, acknowledged } } }
 *
 * as JSON, rewritten every HEARTBEAT_INTERVAL_MS and expiring after three intervals without one, so a bridge
 * that died drops out by itself (`SCAN MATCH <prefix>:bridges:*` lists the live ones). Times are ISO 8601.
 */
import { hostname } from 'node:os';
import type { Logger } from '../logger.js';
import type { RedisConnection } from '../queues/connection.js';
import type { BridgeCounts, BridgeMetrics } from './metrics.js';

export const HEARTBEAT_INTERVAL_MS = 5_000;

export interface HeartbeatOptions {
  name: string;
  kind: 'celery-bridge' | 'stream-bridge';
  /** The sources read: Celery queues, streams, channels. */
  queues: readonly string[];
  prefix: string;
  intervalMs?: number;
}

export function bridgeKey(prefix: string, name: string): string {
  return `${prefix}:bridges:${name}`;
}

/** Writes the record now and then every interval; the returned function stops and deletes it. */
export function startHeartbeat(
  redis: RedisConnection,
  metrics: BridgeMetrics,
  options: HeartbeatOptions,
  logger: Logger,
): () => Promise<void> {
  const key = bridgeKey(options.prefix, options.name);
  const intervalMs = options.intervalMs ?? HEARTBEAT_INTERVAL_MS;
  const started = new Date().toISOString();
  const beat = () => {
    const queueCounts = metrics.counts();
    const counts: BridgeCounts = { bridged: 0, rejected: 0, acknowledged: 0 };
    for (const perQueue of Object.values(queueCounts)) {
      counts.bridged += perQueue.bridged;
      counts.rejected += perQueue.rejected;
      counts.acknowledged += perQueue.acknowledged;
    }
    const record = {
      name: options.name,
      kind: options.kind,
      host: hostname(),
      pid: process.pid,
      queues: options.queues,
      started,
      last_heartbeat: new Date().toISOString(),
      counts,
      queue_counts: queueCounts,
    };
    return redis
      .set(key, JSON.stringify(record), 'PX', intervalMs * 3)
      .catch((error: Error) => logger.warn({ err: error.message }, 'bridge heartbeat not written'));
  };
  void beat();
  const timer = setInterval(beat, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await redis.del(key).catch(() => undefined);
  };
}
