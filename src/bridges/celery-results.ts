/**
 * Celery's Redis result backend, written by the bridge so that `AsyncResult(id).get(timeout=…)` in an unchanged
 * producer returns the task's result dictionary or raises with the failure reason. As Celery's backend does: the
 * meta `{status, result, traceback, children, date_done, task_id}` as JSON under `celery-task-meta-<id>`, kept
 * CELERY_RESULT_EXPIRES, and published on the channel of the same name, which wakes the waiting producer.
 *
 * A worker in any process completes the job, so the bridge listens on the queues' events. Which completed job
 * answers which Celery task is written at bridge time (`<prefix>:celery-results:<jobId>` → task id) and taken
 * and removed once the result is written (a result written twice is the same result). Each bridge remembers how far
 * it read the events, so results of jobs that ended while it was down, or while the result backend was, are written
 * when it is back.
 */
import { QueueEvents } from 'bullmq';
import type { Logger } from '../logger.js';
import { QUEUE_NAMES } from '../tasks/define-task.js';
import type { RedisTarget } from '../config.js';
import { createRedis, queuePrefix, waitUntilReady, type RedisConnection } from '../queues/connection.js';

/** What a failure raises in the producer: the old service's class for failures that retrying cannot mend. */
const FAILURE_TYPE = { exc_type: 'PermanentError', exc_module: 'email_workers.tasks' };
/** How long a pending mapping outlives its job's delay (retries included). */
const MAPPING_TTL_S = 86_400;
const CURSOR_SAVE_MS = 1_000;

// Celery keeps the first SUCCESS: a later update of the same task does not overwrite it.
const STORE = `
local current = redis.call('GET', KEYS[1])
if current and string.find(current, '"status": *"SUCCESS"') then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1`;

export interface ResultBackend {
  success(taskId: string, result: unknown): Promise<void>;
  failure(taskId: string, reason: string): Promise<void>;
  close(): Promise<void>;
}

export async function openResultBackend(url: string, expiresS: number): Promise<ResultBackend> {
  // The old service's result backend: one Redis of its own, whatever mode the queues' Redis is in.
  const redis = createRedis({ mode: 'standalone', url, prefix: '' }, 'producer', () => undefined);
  await waitUntilReady(redis, 5_000);
  const store = (
    taskId: string,
    status: 'SUCCESS' | 'FAILURE',
    result: unknown,
    traceback: string | null,
  ) => {
    const meta = {
      status,
      result,
      traceback,
      children: [],
      // Celery writes a naive UTC time.
      date_done: new Date().toISOString().replace('Z', ''),
      task_id: taskId,
    };
    return redis
      .eval(STORE, 1, `celery-task-meta-${taskId}`, JSON.stringify(meta), String(expiresS))
      .then(() => undefined);
  };
  return {
    success: (taskId, result) => store(taskId, 'SUCCESS', result ?? null, null),
    failure: (taskId, reason) =>
      store(taskId, 'FAILURE', { ...FAILURE_TYPE, exc_message: [reason] }, `PermanentError: ${reason}`),
    async close() {
      redis.disconnect();
    },
  };
}

export interface ResultListener {
  /** Before the jobs are added: which job answers which Celery task. */
  remember(entries: ReadonlyArray<{ jobId: string; taskId: string; delayMs: number }>): Promise<void>;
  close(): Promise<void>;
}

export interface ResultListenerOptions {
  /** The BullMQ side: where the queues and the mappings live. */
  redis: RedisTarget;
  /** The bridge's name: its place in the events streams is kept under it. */
  name: string;
  backend: ResultBackend;
  logger: Logger;
}

/**
 * The id of the newest event, read from there on: unlike '$', which means "after whatever is newest when the first
 * read arrives", it misses no job completed between now and then.
 */
async function lastEvent(redis: RedisConnection, target: RedisTarget, queue: string): Promise<string> {
  const [newest] = await redis.xrevrange(
    `${queuePrefix(target, queue)}:${queue}:events`,
    '+',
    '-',
    'COUNT',
    1,
  );
  return newest?.[0] ?? '0-0';
}

export async function listenForResults(options: ResultListenerOptions): Promise<ResultListener> {
  const { backend, logger } = options;
  const { prefix } = options.redis;
  const redis = createRedis(options.redis, 'producer', () => undefined);
  await waitUntilReady(redis, 5_000);
  const mappingKey = (jobId: string) => `${prefix}:celery-results:${jobId}`;
  const cursorKey = (queue: string) => `${prefix}:celery-results:cursor:${options.name}:${queue}`;

  // Each QueueEvents duplicates it for its blocking reads.
  const eventsConnection = createRedis(options.redis, 'worker', () => undefined);
  const cursors = new Map<string, string>();
  const listeners: QueueEvents[] = [];
  let closed = false;
  /** Runs `attempt` until it succeeds (true) or the listener closes (false), waiting up to 10 s between tries. */
  const retryUntilClosed = async (attempt: () => Promise<void>, failed: (error: Error) => void) => {
    for (let delayMs = 500; !closed; delayMs = Math.min(delayMs * 2, 10_000)) {
      try {
        await attempt();
        return true;
      } catch (error) {
        failed(error as Error);
        await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
      }
    }
    return false;
  };
  for (const queue of QUEUE_NAMES) {
    const lastEventId = (await redis.get(cursorKey(queue))) ?? (await lastEvent(redis, options.redis, queue));
    const events = new QueueEvents(queue, {
      connection: eventsConnection,
      prefix: queuePrefix(options.redis, queue),
      lastEventId,
    });
    events.on('error', (error) => logger.warn({ queue, err: error.message }, 'result listener error'));
    // Events in the order read; the saved cursor moves past an event only once its result is written and every
    // event before it is done, so a result the backend could not take is read again after a restart.
    const unsettled: Array<{ id: string; done: boolean }> = [];
    const settle = (id: string, jobId: string, write: (taskId: string) => Promise<void>) => {
      const event = { id, done: false };
      unsettled.push(event);
      const attempt = async (): Promise<void> => {
        // The mapping goes only after the result is written: a backend that is down loses no result.
        const taskId = await redis.get(mappingKey(jobId));
        if (taskId) {
          await write(taskId);
          await redis.del(mappingKey(jobId));
        }
      };
      retryUntilClosed(attempt, (error) =>
        logger.error({ jobId, err: error.message }, 'Celery result not written yet: trying again'),
      ).then((written) => {
        if (!written) return;
        event.done = true;
        while (unsettled[0]?.done) cursors.set(queue, unsettled.shift()!.id);
      });
    };
    events.on('completed', ({ jobId, returnvalue }, id) =>
      settle(id, jobId, (taskId) => backend.success(taskId, returnvalue)),
    );
    events.on('failed', ({ jobId, failedReason }, id) =>
      settle(id, jobId, (taskId) => backend.failure(taskId, failedReason)),
    );
    listeners.push(events);
  }
  await Promise.all(listeners.map((events) => events.waitUntilReady()));

  const saveCursors = () => {
    const pipeline = redis.pipeline();
    for (const [queue, id] of cursors) pipeline.set(cursorKey(queue), id, 'EX', MAPPING_TTL_S);
    cursors.clear();
    return pipeline.exec().catch(() => undefined);
  };
  const timer = setInterval(saveCursors, CURSOR_SAVE_MS);
  timer.unref();

  return {
    async remember(entries) {
      if (!entries.length) return;
      const pipeline = redis.pipeline();
      for (const { jobId, taskId, delayMs } of entries) {
        pipeline.set(mappingKey(jobId), taskId, 'EX', MAPPING_TTL_S + Math.ceil(delayMs / 1000));
      }
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error);
      if (failed) throw failed[0]!;
    },
    async close() {
      clearInterval(timer);
      closed = true;
      await Promise.all(listeners.map((events) => events.close()));
      await saveCursors();
      eventsConnection.disconnect();
      redis.disconnect();
    },
  };
}
