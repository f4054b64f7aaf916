/**
 * The message shape of Redis Streams entries and pub/sub messages: `task` (a task name, qualified or bare),
 * `payload` (the task's payload as JSON; absent for `health_check`) and an optional `idempotency_key`.
 */
import type { EnqueueRequest } from '@email-workers/client';
import { UndecodableMessageError, UnknownTaskError } from '../errors.js';
import { TASK_NAMES, findTask, type TaskName } from '../tasks/registry.js';
import type { Decoded } from './ingest.js';

export interface IngestFields {
  task?: unknown;
  payload?: unknown;
  idempotency_key?: unknown;
}

/**
 * `fields` as received; `defaultKey` is the idempotency key when the message brings none (a stream entry's
 * id, so an entry delivered again after a crash is one email).
 */
export function decodeIngestMessage(
  fields: IngestFields,
  origin: string,
  messageId: string | undefined,
  defaultKey: string | undefined,
): Decoded {
  const message = () => fields;
  try {
    return { request: toRequest(fields, defaultKey), origin, messageId, message };
  } catch (error) {
    const task = typeof fields.task === 'string' ? fields.task.slice(0, 200) : undefined;
    return { error: error as Error, origin, messageId, task, message };
  }
}

function toRequest(fields: IngestFields, defaultKey: string | undefined): EnqueueRequest {
  if (typeof fields.task !== 'string' || fields.task === '') {
    throw new UndecodableMessageError('task: expected a task name');
  }
  const task = findTask(fields.task);
  if (!task) throw new UnknownTaskError(fields.task.slice(0, 200), TASK_NAMES);
  let payload = fields.payload ?? {};
  if (typeof payload === 'string') {
    try {
      payload = JSON.parse(payload);
    } catch (error) {
      throw new UndecodableMessageError(`payload is not valid JSON (${(error as Error).message})`);
    }
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new UndecodableMessageError('payload: expected a JSON object');
  }
  const key = fields.idempotency_key ?? defaultKey;
  if (key !== undefined && typeof key !== 'string') {
    throw new UndecodableMessageError('idempotency_key: expected a string');
  }
  return {
    name: task.name as TaskName,
    payload: payload as never,
    options: key === undefined ? {} : { idempotencyKey: key },
  };
}
