/**
 * Copies every job that fails for good — attempts exhausted, permanent, expired, stalled too often — to the
 * `dead_letter` queue, from each queue's `failed` set rather than from the worker that ran it: a worker killed
 * mid-job never sees its own failure (BullMQ's stalled check fails the job elsewhere), but the job lands in the set.
 *
 * The set is read, not the queues' events streams: reading those meant parsing every event of every job (added,
 * active, completed …) in every worker process to find the few failures, about 8 % of a worker's CPU per email
 * (docs/BENCHMARKS.md). BullMQ scores the set by the time of failure, so each queue is polled from a position kept
 * in Redis; failures during a restart are copied afterwards, for as long as the set keeps them
 * (FAILED_JOB_RETENTION).
 *
 * Every worker process polls; the letter's id (`<queue>/<job id>`) makes three replicas' copies one entry.
 */
import type { Queue } from 'bullmq';
import type { Config } from '../config.js';
import { maskEmail, maskEmailsIn, maskSecrets, type Logger } from '../logger.js';
import { queuePrefix, type RedisConnection } from './connection.js';
import { DEAD_LETTER_QUEUE, FAILED_JOB_SOURCE, type DeadLetter, type DeadLetters } from './dead-letter.js';

/** The id of a failed job's letter. BullMQ refuses `:` in ids, and neither queue names nor job ids hold `/`. */
export function failedJobLetterId(queue: string, jobId: string): string {
  return `${queue}/${jobId}`;
}

/** How much of the error history a letter keeps: the last runs' lines and the final stack trace. */
const HISTORY_LINES = 20;
/** How often each queue's failed set is read. */
const POLL_MS = 1_000;
/**
 * Each read goes back this far behind the position: a failure's score is the clock of the worker that failed it,
 * and a replica's clock (or a job finishing as the position moves) may lag by that much. What is read twice is
 * skipped (or, after a restart, copied again onto the same letter).
 */
const LOOKBACK_MS = 10_000;
const PAGE = 500;

export function listenForFailures(
  queues: readonly Queue[],
  redis: RedisConnection,
  config: Pick<Config, 'redis'>,
  letters: DeadLetters,
  logger: Logger,
  pollMs = POLL_MS,
): { ready: Promise<void>; close(): Promise<void> } {
  const cursorKey = (queue: string) =>
    `${queuePrefix(config.redis, DEAD_LETTER_QUEUE)}:${DEAD_LETTER_QUEUE}:cursor:${queue}`;
  let closed = false;
  const timers = new Set<NodeJS.Timeout>();
  const polls = new Set<Promise<void>>();

  const start = (queue: Queue) => {
    const failedKey = `${queuePrefix(config.redis, queue.name)}:${queue.name}:failed`;
    /** The newest failure copied; read from Redis on the first poll that reaches it. */
    let position: number | undefined;
    /** Job ids copied at scores within the lookback, so a read that overlaps the last one copies nothing twice. */
    const copied = new Map<string, number>();

    const readPosition = async () => {
      // No position yet: from now, as a stream read from `$` would. (A position of an older version is an events
      // stream id, `<ms>-<n>`: its milliseconds are a time just as well.)
      await redis.set(cursorKey(queue.name), String(Date.now()), 'NX');
      return Number.parseInt((await redis.get(cursorKey(queue.name))) ?? '', 10) || Date.now();
    };

    const poll = async () => {
      let at = position ?? (await readPosition());
      position = at;
      const from = at - LOOKBACK_MS;
      for (let offset = 0; !closed; offset += PAGE) {
        const page: string[] = await redis.zrangebyscore(
          failedKey,
          from,
          '+inf',
          'WITHSCORES',
          'LIMIT',
          offset,
          PAGE,
        );
        for (let i = 0; i < page.length && !closed; i += 2) {
          const jobId = page[i]!;
          const score = Number(page[i + 1]);
          if (copied.get(jobId) === score) continue;
          try {
            await copy(queue, jobId);
          } catch (error) {
            logger.error(
              { queue: queue.name, jobId: maskEmailsIn(jobId), err: (error as Error).message },
              'could not copy a failed job to the dead-letter queue',
            );
            return; // Read again from the same position next time.
          }
          copied.set(jobId, score);
          if (score > at) position = at = score;
        }
        if (page.length < 2 * PAGE) break;
      }
      for (const [jobId, score] of copied) if (score < at - LOOKBACK_MS) copied.delete(jobId);
      await redis.set(cursorKey(queue.name), String(at));
    };

    const loop = (): Promise<void> => {
      const running = poll()
        .catch((error: Error) =>
          logger.debug({ queue: queue.name, err: error.message }, 'failed set not read'),
        )
        .finally(() => {
          polls.delete(running);
          if (closed) return;
          const timer = setTimeout(() => {
            timers.delete(timer);
            void loop();
          }, pollMs);
          timers.add(timer);
        });
      polls.add(running);
      return running;
    };
    return loop();
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
    /** Resolves once every queue's failed set has been read once (or the read has failed and will be retried). */
    ready: started.then(() => undefined),
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      await Promise.all([...polls]);
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
