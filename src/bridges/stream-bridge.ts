/**
 * The stream bridge: Redis Streams (INGEST_STREAMS, read with a consumer group) and pub/sub channels
 * (INGEST_CHANNELS) whose messages `{ task, payload, idempotency_key? }` become jobs through the client.
 */
import { hostname } from 'node:os';
import type { BridgeProcessConfig } from '../config.js';
import { StartupError } from '../errors.js';
import type { Logger } from '../logger.js';
import { openIngest } from './open-ingest.js';
import { subscribeChannels } from './redis-pubsub.js';
import { consumeStreams } from './redis-stream.js';
import type { RunningBridge } from './celery-bridge.js';

export interface StreamBridgeOptions {
  /** Instead of INGEST_STREAMS / INGEST_CHANNELS. */
  streams?: readonly string[];
  channels?: readonly string[];
  /** Consumer group (`email-workers`). */
  group?: string;
  /** Consumer name within the group, also the bridge's name (`stream-bridge@<host>`). */
  consumer?: string;
  /** Entries read at once per stream (100). */
  batchSize?: number;
  /** How long one read blocks waiting for entries, ms (5000). */
  blockTimeoutMs?: number;
  /** Entries pending this long on another consumer are taken over, ms (30000). */
  claimIdleMs?: number;
}

export async function startStreamBridge(
  config: BridgeProcessConfig,
  logger: Logger,
  options: StreamBridgeOptions = {},
): Promise<RunningBridge> {
  const streams = options.streams?.length ? options.streams : config.bridges.ingest.streams;
  const channels = options.channels?.length ? options.channels : config.bridges.ingest.channels;
  if (!streams.length && !channels.length) {
    throw new StartupError(
      'no streams or channels to read: set INGEST_STREAMS or INGEST_CHANNELS (or --stream, --channel)',
    );
  }
  const name = options.consumer ?? `stream-bridge@${hostname()}`;
  const runtime = await openIngest(config, logger, {
    source: 'stream-bridge',
    kind: 'stream-bridge',
    name,
    queues: [...streams, ...channels],
  });
  const sources: Array<{ close(): Promise<void> }> = [];
  const close = async () => {
    runtime.ingest.stop();
    await Promise.all(sources.map((source) => source.close()));
    await runtime.close();
  };
  try {
    const log = logger.child({ bridge: 'stream-bridge' });
    if (streams.length) {
      sources.push(
        await consumeStreams({
          url: config.redis.url,
          streams,
          group: options.group ?? 'email-workers',
          consumer: name,
          batchSize: options.batchSize ?? 100,
          blockTimeoutMs: options.blockTimeoutMs ?? 5_000,
          claimIdleMs: options.claimIdleMs ?? 30_000,
          ingest: runtime.ingest,
          metrics: runtime.metrics,
          logger: log,
        }),
      );
    }
    if (channels.length) {
      sources.push(
        await subscribeChannels({ url: config.redis.url, channels, ingest: runtime.ingest, logger: log }),
      );
    }
    runtime.announce();
    log.info({ name, streams, channels }, 'stream bridge started');
  } catch (error) {
    await close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return { name, close: () => (closing ??= close()) };
}
