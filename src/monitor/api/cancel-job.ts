/** `DELETE /api/jobs/:id`: removes a job that has not started; 409 once it is active or finished. */
import { ApiError } from './api-error.js';
import type { ApiHandler } from './context.js';
import { findJob } from './find-job.js';
import { viewJob } from './job-view.js';
import { parseQuery } from './parse-query.js';
import { jobLookupQuery } from './schemas.js';

const CANCELLABLE = new Set(['waiting', 'wait', 'prioritized', 'delayed', 'waiting-children']);

export const cancelJob: ApiHandler = async (request, context) => {
  const { queue } = parseQuery(jobLookupQuery, request.query);
  const job = await findJob(context, request.params.id ?? '', queue);
  const state = await job.getState();
  const conflict = () =>
    new ApiError(
      409,
      'JOB_STATE_CONFLICT',
      `job ${job.id} is ${state}: only a waiting or delayed job can be cancelled`,
      { state },
    );
  if (!CANCELLABLE.has(state)) throw conflict();
  try {
    // Refused by BullMQ when a worker took the job in the meantime (it is locked).
    await job.remove();
  } catch {
    throw new ApiError(409, 'JOB_STATE_CONFLICT', `job ${job.id} started before it could be cancelled`);
  }
  return { status: 200, body: { ...viewJob(job, 'cancelled'), state: 'cancelled' } };
};
