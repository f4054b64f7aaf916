/**
 * The Celery bridge: unchanged Celery producers (`send_task`, `.delay`) keep working against the new workers. It
 * reads Celery task messages from the broker (kombu's Redis transport, or RabbitMQ), turns each into the job of
 * the same task through the client, dead-letters what it cannot understand, acknowledges only once the job or dead
 * letter exists, and (with CELERY_RESULT_BACKEND) writes each task's outcome where `AsyncResult.get()` looks.
 */
import { hostname } from 'node:os';
import type { BridgeProcessConfig } from '../config.js';
import { jobIdForKey } from '@email-workers/client';
import { UndecodableMessageError } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  decodeCeleryMessage,
  readableBody,
  type CeleryConsumer,
  type CeleryDelivery,
  type CeleryEnvelope,
  type CeleryTask,
} from './celery-message.js';
import {
  openResultBackend,
  listenForResults,
  type ResultBackend,
  type ResultListener,
} from './celery-results.js';
import { toEnqueueRequest, type CeleryTransport } from './celery-task.js';
import type { Decoded, Outcome } from './ingest.js';
import { openIngest } from './open-ingest.js';

export interface CeleryBridgeOptions {
  /** Names the bridge's processing list, lease and heartbeat (`celery-bridge@<host>`). */
  name?: string;
  /** Instead of CELERY_QUEUES. */
  queues?: readonly string[];
  /** Messages bridged per batch (500): each batch costs a few round trips, so larger ones bridge faster. */
  batchSize?: number;
}

export interface RunningBridge {
  readonly name: string;
  /** Stops reading, finishes (or leaves unacknowledged) the batch in hand, closes every connection. */
  close(): Promise<void>;
}

export async function startCeleryBridge(
  config: BridgeProcessConfig,
  logger: Logger,
  options: CeleryBridgeOptions = {},
): Promise<RunningBridge> {
  const celery = config.bridges.celery;
  const name = options.name ?? `celery-bridge@${hostname()}`;
  const queues = options.queues?.length ? options.queues : celery.queues;
  const batchSize = options.batchSize ?? 500;
  const transport: CeleryTransport = /^amqps?:/.test(celery.brokerUrl) ? 'amqp' : 'redis';
  const log = logger.child({ bridge: 'celery-bridge' });
  const runtime = await openIngest(config, logger, {
    source: 'celery-bridge',
    kind: 'celery-bridge',
    name,
    queues,
  });
  const { ingest } = runtime;
  let backend: ResultBackend | undefined;
  let results: ResultListener | undefined;
  let consumer: CeleryConsumer | undefined;
  const close = async () => {
    ingest.stop();
    await consumer?.close();
    await results?.close();
    await backend?.close();
    await runtime.close();
  };

  try {
    if (celery.resultBackend) {
      backend = await openResultBackend(celery.resultBackend, celery.resultExpiresS);
      // Listening before the first job exists, so no completion goes unseen.
      results = await listenForResults({
        redis: config.redis,
        name,
        backend,
        logger: log,
      });
    }
    const { metrics } = runtime;
    consumer =
      transport === 'amqp'
        ? await (
            await import('./celery-amqp.js')
          ).consumeCeleryAmqp({ url: celery.brokerUrl, queues, batchSize, metrics, logger: log })
        : await (
            await import('./celery-redis.js')
          ).consumeKombuRedis({ url: celery.brokerUrl, queues, name, batchSize, metrics, logger: log });

    consumer.start(async (deliveries) => {
      const now = Date.now();
      const items = deliveries.map((delivery) => decodeDelivery(delivery, transport, now));
      const decoded = items.map((item) => item.decoded);
      for (const { call } of items) {
        if (call?.hasLinks)
          log.warn({ taskId: call.id }, 'callbacks, chains and chords are not run by the bridge');
      }
      if (results) {
        const wanted = items.flatMap(({ decoded: item, call }) =>
          'request' in item && call && !call.ignoreResult
            ? [
                {
                  jobId: jobIdForKey(item.request.name, call.id),
                  taskId: call.id,
                  delayMs: item.request.options?.delay ?? 0,
                },
              ]
            : [],
        );
        await ingest.retrying('remembering result keys', () => results!.remember(wanted));
      }
      const outcomes = await ingest.submit(decoded);
      if (backend) await recordRefusals(backend, items, outcomes, log);
    });
    runtime.announce();
    log.info({ name, transport, queues, results: Boolean(backend) }, 'celery bridge started');
  } catch (error) {
    await close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return { name, close: () => (closing ??= close()) };
}

interface DecodedDelivery {
  decoded: Decoded;
  /** The task call, when the body decoded. */
  call?: CeleryTask | undefined;
}

function decodeDelivery(delivery: CeleryDelivery, transport: CeleryTransport, now: number): DecodedDelivery {
  const { envelope, queue } = delivery;
  if (!envelope) {
    const error = new UndecodableMessageError('not a kombu message: the envelope is not JSON');
    return { decoded: { error, origin: queue, message: () => delivery.raw } };
  }
  const message = () => ({ ...(delivery.raw as object), body: describeBody(envelope) });
  let call: CeleryTask | undefined;
  try {
    call = decodeCeleryMessage(envelope);
    const request = toEnqueueRequest(call, envelope.priority, transport, now);
    return { call, decoded: { request, origin: queue, messageId: call.id, message } };
  } catch (error) {
    const { id, task } = envelope.headers;
    return {
      call,
      decoded: {
        error: error as Error,
        origin: queue,
        messageId: call?.id ?? (typeof id === 'string' ? id : undefined),
        task: call?.task ?? (typeof task === 'string' ? task : undefined),
        message,
      },
    };
  }
}

/** A JSON body as it was sent; any other is described, never stored (a pickle may carry anything). */
function describeBody(envelope: CeleryEnvelope): unknown {
  return (
    readableBody(envelope) ??
    `(${envelope.body.length} bytes of ${envelope.contentType ?? 'unknown content type'}, not decoded)`
  );
}

/** Celery records a refused task as failed (an unregistered task, bad arguments): so does the bridge. */
async function recordRefusals(
  backend: ResultBackend,
  items: readonly DecodedDelivery[],
  outcomes: readonly Outcome[],
  log: Logger,
): Promise<void> {
  await Promise.all(
    outcomes.map(async (outcome, i) => {
      const { decoded, call } = items[i]!;
      if (!('error' in outcome) || !decoded.messageId || call?.ignoreResult) return;
      await backend
        .failure(decoded.messageId, outcome.error.message)
        .catch((error: Error) =>
          log.error({ taskId: decoded.messageId, err: error.message }, 'Celery result not written'),
        );
    }),
  );
}
