/**
 * Celery messages from RabbitMQ (CELERY_BROKER_URL amqp://), with manual acknowledgements: a batch is acked (one
 * `basic.ack` with `multiple`) only after its jobs or dead letters exist, so a bridge killed at any moment leaves
 * its unacknowledged messages to RabbitMQ, which delivers them again (the task id keeps that to one email).
 *
 * The client is amqplib 2: no dependencies, its own TypeScript types, Node ≥ 18, and since 2.x an opt-in
 * reconnection whose `setup` re-creates the channel and consumers after every reconnect.
 */
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import type { Logger } from '../logger.js';
import type { CeleryConsumer, CeleryDelivery } from './celery-message.js';
import type { BridgeMetrics } from './metrics.js';

export interface CeleryAmqpOptions {
  url: string;
  queues: readonly string[];
  batchSize: number;
  metrics: BridgeMetrics;
  logger: Logger;
}

interface Session {
  channel: Channel;
  consumerTags: string[];
  pending: Array<{ message: ConsumeMessage; queue: string }>;
  flushing: Promise<void> | undefined;
  closed: boolean;
}

export async function consumeCeleryAmqp(options: CeleryAmqpOptions): Promise<CeleryConsumer> {
  const { queues, batchSize, metrics, logger } = options;
  let handle: ((deliveries: CeleryDelivery[]) => Promise<void>) | undefined;
  let session: Session | undefined;
  let stopping = false;

  const flush = async (current: Session) => {
    while (current.pending.length && handle && !current.closed && !stopping) {
      const batch = current.pending.splice(0, batchSize);
      try {
        await handle(batch.map(({ message, queue }) => toDelivery(message, queue)));
      } catch (error) {
        // Stopping: the batch stays unacknowledged, and RabbitMQ delivers it again. Otherwise it is tried again.
        if (stopping) return;
        logger.error({ err: (error as Error).message }, 'bridging a batch failed: trying it again');
        current.pending.unshift(...batch);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        continue;
      }
      try {
        // Deliveries arrive in tag order and batches are handled in turn: everything up to the last is done.
        current.channel.ack(batch.at(-1)!.message, true);
        for (const { queue } of batch) metrics.acknowledged(queue);
      } catch (error) {
        // The channel closed under us: RabbitMQ redelivers the batch, and the task ids keep it to one email.
        logger.warn({ err: (error as Error).message }, 'RabbitMQ channel closed before the ack');
      }
    }
  };
  const schedule = (current: Session) => {
    current.flushing ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => flush(current))
      .finally(() => {
        current.flushing = undefined;
        if (current.pending.length && handle && !current.closed && !stopping) schedule(current);
      });
  };

  const setup = async (model: ChannelModel) => {
    const channel = await model.createChannel();
    const current: Session = { channel, consumerTags: [], pending: [], flushing: undefined, closed: false };
    channel.on('error', (error: Error) => logger.error({ err: error.message }, 'RabbitMQ channel error'));
    channel.on('close', () => {
      current.closed = true;
      current.pending = [];
    });
    await channel.prefetch(batchSize * 2);
    for (const queue of queues) await ensureQueue(model, channel, queue);
    session = current;
    for (const queue of queues) {
      const { consumerTag } = await channel.consume(
        queue,
        (message) => {
          if (!message) return; // cancelled by the server (queue deleted): the reconnect re-creates it
          current.pending.push({ message, queue });
          if (handle) schedule(current);
        },
        { noAck: false },
      );
      current.consumerTags.push(consumerTag);
    }
    logger.info({ queues }, 'consuming Celery queues on RabbitMQ');
  };

  const connection = await connect(options.url, {
    recovery: { initialDelay: 200, maxDelay: 5_000, initialMaxRetries: 3, setup },
  });
  connection.on('disconnect', (error: Error) =>
    logger.error({ err: error.message }, 'RabbitMQ connection lost: reconnecting'),
  );
  connection.on('error', (error: Error) => logger.error({ err: error.message }, 'RabbitMQ error'));

  return {
    start(handler) {
      handle = handler;
      if (session) schedule(session);
    },
    async close() {
      stopping = true;
      const current = session;
      if (current && !current.closed) {
        await Promise.all(
          current.consumerTags.map((tag) => current.channel.cancel(tag).catch(() => undefined)),
        );
        await current.flushing;
      }
      // Prefetched messages not yet handled go back to their queues when the channel closes.
      await connection.close().catch(() => undefined);
    },
  };
}

/**
 * Celery declares its queues durable, without arguments. A queue that exists is used as it is (declaring it again
 * with other arguments, e.g. x-max-priority, would fail); a missing one is declared the way Celery would.
 */
async function ensureQueue(model: ChannelModel, channel: Channel, queue: string): Promise<void> {
  const probe = await model.createChannel();
  probe.on('error', () => undefined);
  try {
    await probe.checkQueue(queue);
    await probe.close();
  } catch {
    // A failed check closes the probe channel.
    await channel.assertQueue(queue, { durable: true });
  }
}

function toDelivery(message: ConsumeMessage, queue: string): CeleryDelivery {
  const { properties } = message;
  return {
    queue,
    raw: { fields: message.fields, properties },
    envelope: {
      body: message.content,
      contentType: properties.contentType as string | undefined,
      contentEncoding: properties.contentEncoding as string | undefined,
      headers: (properties.headers ?? {}) as Record<string, unknown>,
      priority: typeof properties.priority === 'number' ? properties.priority : undefined,
    },
  };
}
