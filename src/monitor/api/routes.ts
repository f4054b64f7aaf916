/**
 * The task API's route table: each route names its handler (one a file) and what openapi.ts documents about it.
 * `POST /tasks/:name` is documented once per task, with that task's payload schema.
 */
import type { z } from 'zod';
import { cancelJob } from './cancel-job.js';
import type { ApiHandler } from './context.js';
import { enqueueTask } from './enqueue-task.js';
import { getJob } from './get-job.js';
import { getStats } from './get-stats.js';
import { listDeadLetters } from './list-dead-letters.js';
import { replayDeadLetter } from './replay-dead-letter.js';
import { listJobs } from './list-jobs.js';
import { retryJob } from './retry-job.js';
import {
  deadLetterIdParams,
  deadLetterPage,
  enqueued,
  enqueueQuery,
  idempotencyHeader,
  jobIdParams,
  jobLookupQuery,
  jobPage,
  jobView,
  listDeadLettersQuery,
  listJobsQuery,
  replayResult,
  stats,
} from './schemas.js';

export interface ApiRoute {
  method: 'get' | 'post' | 'delete';
  /** Express syntax, relative to `/api`. */
  path: string;
  summary: string;
  handler: ApiHandler;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  /** Status → description and body schema (errors use the Error schema). */
  responses: Record<number, { description: string; body?: z.ZodType }>;
}

const UNAVAILABLE = { 503: { description: 'Redis unreachable (Retry-After: 1)' } };
/** What every route that takes a job id may answer besides its success. */
const JOB_LOOKUP = {
  404: { description: 'No such job' },
  409: { description: 'The job is in a state that does not allow this, or its id exists in several queues' },
  ...UNAVAILABLE,
};

export const API_ROUTES: readonly ApiRoute[] = [
  {
    method: 'post',
    path: '/tasks/:name',
    summary: 'Enqueue a task',
    handler: enqueueTask,
    query: enqueueQuery,
    headers: idempotencyHeader,
    responses: {
      202: { description: 'Enqueued', body: enqueued },
      200: {
        description: 'Replay of an Idempotency-Key with the same body (Idempotent-Replay: true)',
        body: enqueued,
      },
      400: { description: 'Malformed JSON' },
      404: { description: 'Unknown task (details.known lists the tasks)' },
      413: { description: 'Body over 64 KiB' },
      422: {
        description: 'Invalid payload (one detail per field), or an Idempotency-Key reused with another body',
      },
      ...UNAVAILABLE,
    },
  },
  {
    method: 'get',
    path: '/jobs',
    summary: 'List jobs, newest first',
    handler: listJobs,
    query: listJobsQuery,
    responses: {
      200: { description: 'A page of jobs', body: jobPage },
      422: { description: 'Bad parameter' },
      ...UNAVAILABLE,
    },
  },
  {
    method: 'get',
    path: '/jobs/:id',
    summary: 'One job, redacted as on the board',
    handler: getJob,
    params: jobIdParams,
    query: jobLookupQuery,
    responses: {
      200: { description: 'The job', body: jobView },
      ...JOB_LOOKUP,
    },
  },
  {
    method: 'delete',
    path: '/jobs/:id',
    summary: 'Cancel a waiting or delayed job',
    handler: cancelJob,
    params: jobIdParams,
    query: jobLookupQuery,
    responses: {
      200: { description: 'Cancelled', body: jobView },
      ...JOB_LOOKUP,
    },
  },
  {
    method: 'post',
    path: '/jobs/:id/retry',
    summary: 'Retry a failed job with a fresh attempt budget',
    handler: retryJob,
    params: jobIdParams,
    query: jobLookupQuery,
    responses: {
      200: { description: 'Waiting again', body: jobView },
      ...JOB_LOOKUP,
    },
  },
  {
    method: 'get',
    path: '/dead-letters',
    summary: 'List dead letters, newest first: jobs that failed for good and refused messages',
    handler: listDeadLetters,
    query: listDeadLettersQuery,
    responses: {
      200: { description: 'The dead letters, redacted', body: deadLetterPage },
      422: { description: 'Bad parameter' },
      ...UNAVAILABLE,
    },
  },
  {
    method: 'post',
    path: '/dead-letters/:id/replay',
    summary: "Replay a dead letter's job with a fresh attempt budget and the same idempotency key",
    handler: replayDeadLetter,
    params: deadLetterIdParams,
    responses: {
      200: { description: 'Back on its queue', body: replayResult },
      404: { description: 'No such dead letter' },
      409: { description: 'Refused: expired, its job is gone, or not a job (a bridge refused the message)' },
      ...UNAVAILABLE,
    },
  },
  {
    method: 'get',
    path: '/stats',
    summary: 'Counts per queue and in total, the tasks, the live workers',
    handler: getStats,
    responses: { 200: { description: 'Stats', body: stats }, ...UNAVAILABLE },
  },
];
