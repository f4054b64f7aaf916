/** `POST /api/tasks/:name`: validates like the typed client, enqueues, answers 202 (or 200 for a replay). */
import { randomUUID } from 'node:crypto';
import { jobIdForKey } from '@email-workers/client';
import { queuePrefix } from '../../queues/connection.js';
import { InvalidPayloadError } from '../../errors.js';
import type { TaskDefinition } from '../../tasks/define-task.js';
import { encryptPayload, fingerprintPayload, parsePayload } from '@email-workers/client/internal';
import { TASK_NAMES, findTask } from '../../tasks/registry.js';
import { ApiError, invalid } from './api-error.js';
import type { ApiHandler } from './context.js';
import { useIdempotencyKey } from './idempotency.js';
import { parseQuery } from './parse-query.js';
import { enqueueQuery } from './schemas.js';

export const enqueueTask: ApiHandler = async (request, context) => {
  const name = request.params.name ?? '';
  const task = findTask(name);
  if (!task) {
    throw new ApiError(404, 'UNKNOWN_TASK', `unknown task ${name} (known: ${TASK_NAMES.join(', ')})`, {
      known: TASK_NAMES,
    });
  }
  const options = parseQuery(enqueueQuery, request.query);
  const key = request.header('idempotency-key');
  if (key !== undefined && (key.length < 1 || key.length > 255)) {
    throw invalid([{ path: 'Idempotency-Key', message: 'expected 1 to 255 characters' }]);
  }
  validate(task, request.body);
  // Validated in clear text; stored with its sensitive fields encrypted (PAYLOAD_ENCRYPTION_KEY).
  const data = encryptPayload(task.name, request.body, context.config.encryption);

  const jobId = jobIdForKey(task.name, key ?? randomUUID());
  const reply = (status: number, state: string, headers?: Record<string, string>) => ({
    status,
    body: { job_id: jobId, task: task.name, queue: task.queue, status: state },
    headers,
  });
  if (key !== undefined) {
    const use = await useIdempotencyKey(
      context.redis,
      queuePrefix(context.config.redis, task.queue),
      task.queue,
      jobId,
      {
        body: fingerprintPayload(task.name, request.body, context.config.encryption),
        ...options,
      },
    );
    if (use === 'mismatch') {
      throw new ApiError(
        422,
        'IDEMPOTENCY_KEY_REUSED',
        'this Idempotency-Key was used with another request body',
      );
    }
    if (use === 'replay') {
      const first = await context.queues.get(task.queue).getJob(jobId);
      // Gone (removed after it finished, or the first request failed before adding it): adding it again is safe,
      // since the job id dedupes a job that still exists and the ledger an email that was sent.
      if (!first) await context.add(task.queue, task.name, data, jobOptions(task, jobId, options));
      const state = first ? await first.getState() : 'waiting';
      return reply(200, statusOf(state), { 'Idempotent-Replay': 'true' });
    }
  }
  await context.add(task.queue, task.name, data, jobOptions(task, jobId, options));
  return reply(202, 'queued');
};

function validate(task: TaskDefinition, body: unknown): void {
  try {
    parsePayload(task, body);
  } catch (error) {
    if (!(error instanceof InvalidPayloadError)) throw error;
    throw invalid(
      error.problems.map((problem) => ({ path: problem.field, message: problem.message })),
      error.message,
    );
  }
}

function jobOptions(task: TaskDefinition, jobId: string, options: { delay_ms?: number; priority?: number }) {
  const priority = options.priority ?? task.priority;
  return {
    jobId,
    ...(options.delay_ms ? { delay: options.delay_ms } : {}),
    ...(priority === undefined ? {} : { priority }),
  };
}

function statusOf(state: string): string {
  return ['waiting', 'wait', 'prioritized', 'delayed', 'unknown'].includes(state) ? 'queued' : state;
}
