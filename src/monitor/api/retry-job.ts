/**
 * `POST /api/jobs/:id/retry`: a failed job runs again with a fresh attempt budget (attempts are counted from
 * BullMQ's attemptsStarted). The ledger keeps an email that was sent from going twice.
 */
import { ApiError } from './api-error.js';
import type { ApiHandler } from './context.js';
import { findJob } from './find-job.js';
import { viewJob } from './job-view.js';
import { parseQuery } from './parse-query.js';
import { jobLookupQuery } from './schemas.js';

export const retryJob: ApiHandler = async (request, context) => {
  const { queue } = parseQuery(jobLookupQuery, request.query);
  const job = await findJob(context, request.params.id ?? '', queue);
  const state = await job.getState();
  if (state !== 'failed') {
    throw new ApiError(
      409,
      'JOB_STATE_CONFLICT',
      `job ${job.id} is ${state}: only a failed job can be retried`,
      { state },
    );
  }
  await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
  return { status: 200, body: viewJob(job, 'waiting') };
};
