/**
 * Redis Streams as a source: a consumer group per stream (created at the stream's end when missing), entries
 * `{ task, payload, idempotency_key? }`. An entry is acknowledged (XACK) only once its job or dead letter exists.
 * Entries left pending by a consumer that died are taken over: this consumer's own at start (XREADGROUP from 0),
 * any consumer's once idle longer than `claimIdleMs` (XAUTOCLAIM). An entry without an idempotency key is keyed by
 * its stream and id, so one delivered again after a crash is still one email.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { redisOptions } from '../queues/connection.js';
import type { Decoded, Ingest } from './ingest.js';
import { decodeIngestMessage, type IngestFields } from './ingest-message.js';
import type { BridgeMetrics } from './metrics.js';

export interface StreamConsumerOptions {
  url: string;
  streams: readonly string[];
  group: string;
  consumer: string;
  batchSize: number;
  /** XREADGROUP's BLOCK: how long one read waits for new entries. */
  blockTimeoutMs: number;
  /** Entries pending this long on another consumer are taken over. */
  claimIdleMs: number;
  ingest: Ingest;
  metrics: BridgeMetrics;
  logger: Logger;
}

type Entry = [id: string, fields: string[] | null];

export async function consumeStreams(options: StreamConsumerOptions): Promise<{ close(): Promise<void> }> {
  const { streams, group, consumer, batchSize, ingest, metrics, logger } = options;
  const redis = new Redis(options.url, {
    ...redisOptions('worker'),
    connectionName: 'email-workers:stream-bridge',
  });
  redis.on('error', (error) => logger.error({ err: error.message }, 'stream connection error'));
  for (const stream of streams) {
    try {
      await redis.xgroup('CREATE', stream, group, '$', 'MKSTREAM');
      logger.info({ stream, group }, 'consumer group created at the end of the stream');
    } catch (error) {
      if (!(error as Error).message.startsWith('BUSYGROUP')) throw error;
    }
  }

  let stopping = false;
  let blocked = false;

  const handle = async (stream: string, entries: Entry[]) => {
    const decoded: Decoded[] = [];
    for (const [id, fields] of entries) {
      // A pending entry deleted from the stream meanwhile has no fields left: there is nothing to bridge.
      if (fields) decoded.push(decodeIngestMessage(toFields(fields), stream, id, `${stream}:${id}`));
    }
    await ingest.submit(decoded);
    await redis.xack(stream, group, ...entries.map(([id]) => id));
    metrics.acknowledged(stream, entries.length);
  };

  /** This consumer's own pending entries, left by its previous life. */
  const recoverOwn = async () => {
    for (const stream of streams) {
      for (let after = '0'; ;) {
        const reply = (await redis.xreadgroup(
          'GROUP',
          group,
          consumer,
          'COUNT',
          batchSize,
          'STREAMS',
          stream,
          after,
        )) as Array<[string, Entry[]]> | null;
        const entries = reply?.[0]?.[1] ?? [];
        if (!entries.length) break;
        await handle(stream, entries);
        after = entries.at(-1)![0];
      }
    }
  };

  const claimIdle = async () => {
    for (const stream of streams) {
      for (let start = '0-0'; ;) {
        const [next, entries] = (await redis.xautoclaim(
          stream,
          group,
          consumer,
          options.claimIdleMs,
          start,
          'COUNT',
          batchSize,
        )) as [string, Entry[]];
        if (entries.length) {
          logger.warn({ stream, entries: entries.length }, 'took over entries a dead consumer left pending');
          await handle(stream, entries);
        }
        if (next === '0-0') break;
        start = next;
      }
    }
  };

  const loop = async () => {
    let recover = true;
    let nextClaim = 0;
    while (!stopping) {
      try {
        if (recover) {
          await recoverOwn();
          recover = false;
        }
        if (Date.now() >= nextClaim) {
          await claimIdle();
          nextClaim = Date.now() + Math.max(1_000, options.claimIdleMs / 2);
        }
        blocked = true;
        const reply = (await redis.xreadgroup(
          'GROUP',
          group,
          consumer,
          'COUNT',
          batchSize,
          'BLOCK',
          options.blockTimeoutMs,
          'STREAMS',
          ...streams,
          ...streams.map(() => '>'),
        )) as Array<[string, Entry[]]> | null;
        blocked = false;
        for (const [stream, entries] of reply ?? []) if (entries.length) await handle(stream, entries);
      } catch (error) {
        blocked = false;
        if (stopping) break;
        // What was read stays pending on this consumer: read again from 0 before anything new.
        logger.error({ err: (error as Error).message }, 'bridging stream entries failed: trying them again');
        recover = true;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  };

  const running = loop();
  return {
    async close() {
      stopping = true;
      // Entries a cut read had delivered stay pending on this consumer: taken back at the next start.
      if (blocked) redis.disconnect();
      await running;
      redis.disconnect();
    },
  };
}

function toFields(flat: string[]): IngestFields {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
}
