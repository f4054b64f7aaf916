/** `GET /api/jobs/:id`. */
import { findJob } from './find-job.js';
import type { ApiHandler } from './context.js';
import { viewJob } from './job-view.js';
import { parseQuery } from './parse-query.js';
import { jobLookupQuery } from './schemas.js';

export const getJob: ApiHandler = async (request, context) => {
  const { queue } = parseQuery(jobLookupQuery, request.query);
  const job = await findJob(context, request.params.id ?? '', queue);
  return { status: 200, body: viewJob(job, await job.getState()) };
};
