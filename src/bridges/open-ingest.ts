/**
 * What every bridge process opens on the queues' side: a Redis connection, the client, the dead-letter queue,
 * the counters, the ingest that ties them together, and the heartbeat record.
 */
import type { BridgeProcessConfig } from '../config.js';
import { createEmailClient } from '@email-workers/client';
import type { Logger } from '../logger.js';
import { createRedis, queuePrefix, waitUntilReady } from '../queues/connection.js';
import { DEAD_LETTER_QUEUE, openDeadLetters } from '../queues/dead-letter.js';
import { startHeartbeat, type HeartbeatOptions } from './heartbeat.js';
import { createIngest, type Ingest } from './ingest.js';
import { bridgeMetrics, type BridgeMetrics } from './metrics.js';

export interface IngestRuntime {
  ingest: Ingest;
  metrics: BridgeMetrics;
  /** Publishes the bridge's record from now on (call once it reads its sources). */
  announce(): void;
  /** Stops the ingest first (so no retry outlives the bridge), then closes; call after the sources are closed. */
  close(): Promise<void>;
}

export async function openIngest(
  config: BridgeProcessConfig,
  logger: Logger,
  bridge: Omit<HeartbeatOptions, 'prefix'> & { source: string },
): Promise<IngestRuntime> {
  const redis = createRedis(config.redis, 'producer', (error) =>
    logger.error({ err: error.message }, 'redis connection error'),
  );
  try {
    await waitUntilReady(redis, 5_000);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const client = createEmailClient({ redis: config.redis });
  const deadLetters = openDeadLetters(redis, queuePrefix(config.redis, DEAD_LETTER_QUEUE));
  const metrics = bridgeMetrics(bridge.kind);
  const ingest = createIngest({ source: bridge.source, client, deadLetters, metrics, logger });
  // The heartbeat is one plain key, no queue's: the bare QUEUE_PREFIX, as the monitor looks it up.
  const heartbeatPrefix = config.redis.prefix;
  let stopHeartbeat: (() => Promise<void>) | undefined;
  return {
    ingest,
    metrics,
    announce() {
      stopHeartbeat ??= startHeartbeat(redis, metrics, { ...bridge, prefix: heartbeatPrefix }, logger);
    },
    async close() {
      ingest.stop();
      await stopHeartbeat?.();
      await deadLetters.close().catch(() => undefined);
      await client.close().catch(() => undefined);
      redis.disconnect();
    },
  };
}
