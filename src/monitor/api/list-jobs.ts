/**
 * `GET /api/jobs?state=&task=&limit=&cursor=`: the newest jobs first, across queues. The cursor is an offset;
 * each page reads at most MAX_SCAN jobs per queue, so deep pages of a busy queue end rather than grow.
 */
import type { Job, JobType } from 'bullmq';
import { QUEUE_NAMES } from '../../tasks/define-task.js';
import { findTask } from '../../tasks/registry.js';
import { invalid } from './api-error.js';
import type { ApiHandler } from './context.js';
import { viewJob } from './job-view.js';
import { parseQuery } from './parse-query.js';
import { JOB_STATES, listJobsQuery } from './schemas.js';

const MAX_SCAN = 5_000;
const TYPES: Record<(typeof JOB_STATES)[number], JobType[]> = {
  waiting: ['wait', 'prioritized'],
  active: ['active'],
  delayed: ['delayed'],
  completed: ['completed'],
  failed: ['failed'],
};

export const listJobs: ApiHandler = async (request, context) => {
  const query = parseQuery(listJobsQuery, request.query);
  const offset = query.cursor === undefined ? 0 : decodeCursor(query.cursor);
  const task = query.task === undefined ? undefined : (findTask(query.task)?.name ?? query.task);
  const states = query.state ? [query.state] : JOB_STATES;
  const window = Math.min(MAX_SCAN, task ? MAX_SCAN : offset + query.limit + 1);

  const found: Array<{ job: Job; state: string }> = [];
  await Promise.all(
    QUEUE_NAMES.map(async (name) => {
      const queue = context.queues.get(name);
      for (const state of states) {
        const jobs = await queue.getJobs(TYPES[state], 0, window - 1);
        for (const job of jobs) {
          if (job && (!task || (findTask(job.name)?.name ?? job.name) === task)) found.push({ job, state });
        }
      }
    }),
  );
  found.sort((a, b) => b.job.timestamp - a.job.timestamp || String(b.job.id).localeCompare(String(a.job.id)));
  const page = found.slice(offset, offset + query.limit);
  const more = found.length > offset + query.limit;
  return {
    status: 200,
    body: {
      jobs: page.map(({ job, state }) => viewJob(job, state)),
      next_cursor: more ? encodeCursor(offset + query.limit) : null,
    },
  };
};

function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^o:(\d{1,6})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw invalid([{ path: 'cursor', message: 'expected the next_cursor of a previous page' }]);
  return Number(match[1]);
}
