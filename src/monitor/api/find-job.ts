/**
 * A job by id across the contract's queues. Ids the API hands out (`<task>~<key>`) are unique; plain BullMQ ids
 * are numbers per queue, so the same one may exist in several: then `?queue=` says which.
 */
import type { Job } from 'bullmq';
import { QUEUE_NAMES, type QueueName } from '../../tasks/define-task.js';
import { ApiError } from './api-error.js';
import type { ApiContext } from './context.js';

export async function findJob(context: ApiContext, id: string, queue: QueueName | undefined): Promise<Job> {
  const names = queue ? [queue] : QUEUE_NAMES;
  const found = (await Promise.all(names.map((name) => context.queues.get(name).getJob(id)))).filter(
    (job): job is Job => job !== undefined && job !== null,
  );
  if (found.length === 0) throw new ApiError(404, 'JOB_NOT_FOUND', `no job ${id}`);
  if (found.length > 1) {
    throw new ApiError(409, 'JOB_ID_AMBIGUOUS', `job id ${id} exists in several queues: add ?queue=`, {
      queues: found.map((job) => job.queueName),
    });
  }
  return found[0]!;
}
