/**
 * Copies every job that fails for good — attempts exhausted, permanent, expired, stalled too often — to the
 * `dead_letter` queue, from the queues' events rather than from the worker that ran it: a worker killed mid-job
 * never sees its own failure (BullMQ's stalled check fails the job elsewhere), but the event is in the stream.
 *
 * Every worker process listens; the letter's id (`<queue>/<job id>`) makes three replicas' copies one entry. Each
 * queue's position in its events stream is kept in Redis, so failures during a restart are copied afterwards
 * (within the stream's cap, EVENTS_MAX_LEN).
 */
import { QueueEvents, type Queue } from 'bullmq';
import type { Config } from '../config.js';
import { maskEmail, maskEmailsIn, maskSecrets, type Logger } from '../logger.js';
import { createRedis, queuePrefix, type RedisConnection } from './connection.js';
import { DEAD_LETTER_QUEUE, FAILED_JOB_SOURCE, type DeadLetter, type DeadLetters } from './dead-letter.js';

/** The id of a failed job's letter. BullMQ refuses `:` in ids, and neither queue names nor job ids hold `/`. */
export function failedJobLetterId(queue: string, jobId: string): string {
  return `${queue}/${jobId}`;
}

/** How much of the error history a letter keeps: the last runs' lines and the final stack trace. */
const HISTORY_LINES = 20;

export function listenForFailures(
  queues: readonly Queue[],
  redis: RedisConnection,
  config: Pick<Config, 'redis'>,
  letters: DeadLetters,
  logger: Logger,
): { ready: Promise<void>; close(): Promise<void> } {
  const cursorKey = (queue: string) =>
    `${queuePrefix(config.redis, DEAD_LETTER_QUEUE)}:${DEAD_LETTER_QUEUE}:cursor:${queue}`;
  const listeners: Array<{ events: QueueEvents; connection: RedisConnection }> = [];
  let closed = false;

  const start = async (queue: Queue) => {
    const lastEventId = (await redis.get(cursorKey(queue.name)).catch(() => null)) ?? '$';
    if (closed) return;
    // QueueEvents blocks on its connection: one of its own, closed with it.
    const connection = createRedis(config.redis, 'worker', () => undefined);
    const events = new QueueEvents(queue.name, {
      connection,
      prefix: queuePrefix(config.redis, queue.name),
      lastEventId,
    });
    events.on('error', (error) => logger.debug({ queue: queue.name, err: error.message }, 'events error'));
    // One at a time, so the stored position only moves forward.
    let chain = Promise.resolve();
    events.on('failed', ({ jobId }, eventId) => {
      chain = chain
        .then(() => copy(queue, jobId))
        .then(() => redis.set(cursorKey(queue.name), eventId))
        .then(
          () => undefined,
          (error: Error) =>
            logger.error(
              { queue: queue.name, jobId: maskEmailsIn(jobId), err: error.message },
              'could not copy a failed job to the dead-letter queue',
            ),
        );
    });
    listeners.push({ events, connection });
    await events.waitUntilReady();
  };

  const copy = async (queue: Queue, jobId: string) => {
    const job = await queue.getJob(jobId);
    // Replayed (or removed) since: an old event read again after a restart is not a failure any more.
    if (!job || (await job.getState()) !== 'failed') return;
    const { logs } = await queue.getJobLogs(jobId);
    const data = (job.data ?? {}) as Record<string, unknown>;
    const letter: DeadLetter = {
      id: failedJobLetterId(queue.name, jobId),
      source: FAILED_JOB_SOURCE,
      origin: queue.name,
      reason: maskEmailsIn(job.failedReason ?? 'failed'),
      code: failureCode(logs, job.failedReason),
      task: job.name,
      messageId: jobId,
      message: maskedPayload(data),
      recipient: typeof data.email === 'string' ? maskEmail(data.email) : undefined,
      attempts: job.attemptsStarted,
      history: [...logs, ...(job.stacktrace ?? []).slice(-1)].slice(-HISTORY_LINES).map(maskEmailsIn),
      job: { queue: queue.name, id: jobId },
    };
    await letters.add([letter]);
  };

  const started = Promise.all(queues.map(start));
  return {
    /** Resolves once every queue's events are being read. */
    ready: started.then(() => undefined),
    async close() {
      closed = true;
      await started.catch(() => undefined);
      for (const { events, connection } of listeners) {
        await events.close().catch(() => undefined);
        connection.disconnect();
      }
    },
  };
}

/**
 * The error's stable code: the last `failed (CODE): …` line of the job's log (job-outcome.ts writes it), `STALLED`
 * for a job BullMQ failed after too many crashes, else `FAILED`.
 */
export function failureCode(logs: readonly string[], failedReason: string | undefined): string {
  for (const line of [...logs].reverse()) {
    const code = /^failed \(([A-Z_]+)\)/.exec(line)?.[1];
    if (code) return code;
  }
  return /stalled more than/.test(failedReason ?? '') ? 'STALLED' : 'FAILED';
}

/** The payload, fit to be kept in a letter: secrets (OTP codes, ciphertexts) replaced, every address masked. */
export function maskedPayload(value: unknown): unknown {
  return maskAddresses(maskSecrets(value));
}

function maskAddresses(value: unknown): unknown {
  if (typeof value === 'string') return maskEmailsIn(value);
  if (Array.isArray(value)) return value.map(maskAddresses);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      // An encrypted field (src/payload-crypto.ts) is kept as neither its ciphertext nor its clear text.
      inner && typeof inner === 'object' && '$enc' in inner ? '***' : maskAddresses(inner),
    ]),
  );
}
