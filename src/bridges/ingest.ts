/**
 * What every bridge does with a batch of messages once its source has decoded them: enqueue the good ones through
 * the client (validation, routing, idempotency keys, as for every producer), dead-letter the rest with the reason,
 * count and log each. It returns only when every message has its job or its dead letter, so the source may then
 * acknowledge the batch; while Redis does not answer it retries, until the bridge stops.
 */
import type { EmailClient, EnqueueRequest } from '@email-workers/client';
import { maskEmailsIn, maskSecrets, recipientHint, type Logger } from '../logger.js';
import type { DeadLetter, DeadLetters } from '../queues/dead-letter.js';
import type { BridgeMetrics } from './metrics.js';

/** A message turned into a request, or the reason it could not be. */
export type Decoded =
  | {
      request: EnqueueRequest;
      /** The Celery queue, stream or channel it came from. */
      origin: string;
      /** The source's id for it (Celery task id, stream entry id), for logs and dead letters. */
      messageId?: string | undefined;
      /** The message as received, for a dead letter should the client refuse it (built only then). */
      message: () => unknown;
    }
  | {
      error: Error & { code?: string };
      origin: string;
      messageId?: string | undefined;
      task?: string | undefined;
      message: () => unknown;
    };

export type Outcome = { jobId: string } | { error: Error };

export interface Ingest {
  /** One outcome per message, in order. Rejects only when the bridge stops before the batch is stored. */
  submit(batch: readonly Decoded[]): Promise<Outcome[]>;
  /** Runs `work` until it succeeds, waiting longer after each failure; rejects once the bridge stops. */
  retrying<T>(what: string, work: () => Promise<T>): Promise<T>;
  /** Ends waits between retries: a batch that cannot be stored is left for the source to deliver again. */
  stop(): void;
}

export class BridgeStoppedError extends Error {
  constructor() {
    super('bridge stopped before the batch was stored');
  }
}

export interface IngestDeps {
  /** `celery-bridge`, `stream-bridge`, `pubsub`: the dead letters' source and the logs' `bridge`. */
  source: string;
  client: EmailClient;
  deadLetters: DeadLetters;
  metrics: BridgeMetrics;
  logger: Logger;
}

const RETRY_DELAYS_MS = [100, 250, 500, 1_000, 2_000, 5_000];

export function createIngest({ source, client, deadLetters, metrics, logger }: IngestDeps): Ingest {
  let stopped = false;
  let wake: (() => void) | undefined;

  const retrying = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    for (let failures = 0; ; failures++) {
      try {
        return await work();
      } catch (error) {
        // Only a failed attempt gives up on stopping: one under way is let finish, so its batch is acknowledged.
        if (stopped) throw new BridgeStoppedError();
        const delayMs = RETRY_DELAYS_MS[Math.min(failures, RETRY_DELAYS_MS.length - 1)]!;
        logger.error({ bridge: source, err: (error as Error).message, retryInMs: delayMs }, `${what} failed`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delayMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        if (stopped) throw new BridgeStoppedError();
      }
    }
  };

  return {
    retrying,
    stop() {
      stopped = true;
      wake?.();
    },
    async submit(batch) {
      const outcomes: Outcome[] = new Array(batch.length);
      const toEnqueue: number[] = [];
      batch.forEach((item, index) => {
        if ('request' in item) toEnqueue.push(index);
        else outcomes[index] = { error: item.error };
      });
      const requests = toEnqueue.map((index) => (batch[index] as { request: EnqueueRequest }).request);
      const settled = requests.length ? await retrying('enqueue', () => client.enqueueSettled(requests)) : [];
      settled.forEach((result, i) => {
        outcomes[toEnqueue[i]!] = 'id' in result ? { jobId: result.id } : result;
      });

      const letters: DeadLetter[] = [];
      batch.forEach((item, index) => {
        const outcome = outcomes[index]!;
        if ('jobId' in outcome) return;
        const error = outcome.error as Error & { code?: string };
        const task = 'request' in item ? item.request.name : item.task;
        letters.push({
          source,
          origin: item.origin,
          reason: error.message,
          code: error.code ?? 'MESSAGE_UNDECODABLE',
          task,
          messageId: item.messageId,
          message: item.message(),
        });
      });
      await retrying('dead-letter', () => deadLetters.add(letters));

      batch.forEach((item, index) => log(item, outcomes[index]!));
      return outcomes;
    },
  };

  function log(item: Decoded, outcome: Outcome) {
    const common = { bridge: source, queue: item.origin, messageId: item.messageId };
    if ('jobId' in outcome && 'request' in item) {
      metrics.bridged(item.origin);
      logger.info(
        {
          ...common,
          task: item.request.name,
          jobId: outcome.jobId,
          to: recipientHint((item.request.payload ?? {}) as Record<string, unknown>),
          outcome: 'bridged',
        },
        'message bridged',
      );
      return;
    }
    const error = (outcome as { error: Error & { code?: string } }).error;
    metrics.rejected(item.origin, error.code ?? 'MESSAGE_UNDECODABLE');
    logger.warn(
      {
        ...common,
        task: 'request' in item ? item.request.name : item.task,
        outcome: 'rejected',
        code: error.code,
        reason: maskEmailsIn(String(maskSecrets(error.message))),
      },
      'message rejected: dead-lettered',
    );
  }
}
