/**
 * Redis pub/sub as a source: the same `{ task, payload, idempotency_key? }` shape, as a JSON message. Pub/sub
 * keeps nothing: a message published while no bridge is subscribed, or while this one cannot reach the queues
 * for longer than its buffer lasts, is gone. Use a stream (or the queues themselves) where that matters.
 */
import { Redis } from 'ioredis';
import { UndecodableMessageError } from '../errors.js';
import type { Logger } from '../logger.js';
import { redisOptions } from '../queues/connection.js';
import type { Decoded, Ingest } from './ingest.js';
import { decodeIngestMessage } from './ingest-message.js';

export interface PubSubOptions {
  url: string;
  channels: readonly string[];
  ingest: Ingest;
  logger: Logger;
}

const BATCH = 500;
/** Messages held while the queues do not answer; beyond it new ones are dropped (and logged). */
const MAX_BUFFERED = 10_000;

export async function subscribeChannels(options: PubSubOptions): Promise<{ close(): Promise<void> }> {
  const { channels, ingest, logger } = options;
  const subscriber = new Redis(options.url, {
    ...redisOptions('worker'),
    connectionName: 'email-workers:pubsub-bridge',
  });
  subscriber.on('error', (error) => logger.error({ err: error.message }, 'pub/sub connection error'));
  const pending: Decoded[] = [];
  let flushing: Promise<void> | undefined;

  const flush = async () => {
    while (pending.length) {
      const batch = pending.splice(0, BATCH);
      try {
        await ingest.submit(batch);
      } catch (error) {
        // Stopping while the queues do not answer: what was in hand is lost, as pub/sub always may lose it.
        logger.error({ err: (error as Error).message, messages: batch.length }, 'pub/sub messages lost');
        return;
      }
    }
  };
  subscriber.on('message', (channel: string, text: string) => {
    if (pending.length >= MAX_BUFFERED) {
      logger.error({ channel }, 'pub/sub message dropped: the buffer is full while the queues do not answer');
      return;
    }
    pending.push(decodeText(text, channel));
    flushing ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(flush)
      .finally(() => (flushing = undefined));
  });
  // Resubscribes by itself after a reconnect (ioredis' autoResubscribe); messages published in between are lost.
  await subscriber.subscribe(...channels);
  logger.info({ channels }, 'subscribed to pub/sub channels');

  return {
    async close() {
      await subscriber.unsubscribe().catch(() => undefined);
      await flushing;
      subscriber.disconnect();
    },
  };
}

function decodeText(text: string, channel: string): Decoded {
  let fields: unknown;
  try {
    fields = JSON.parse(text);
  } catch (error) {
    const reason = new UndecodableMessageError(`message is not valid JSON (${(error as Error).message})`);
    return { error: reason, origin: channel, message: () => text };
  }
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    const reason = new UndecodableMessageError('message: expected a JSON object');
    return { error: reason, origin: channel, message: () => fields };
  }
  return decodeIngestMessage(fields, channel, undefined, undefined);
}
