/**
 * The task API's shapes as zod schemas: the handlers validate queries with them, and openapi.ts documents the
 * API from the same objects (with every task's payload schema from the registry).
 */
import { z } from 'zod';
import { QUEUE_NAMES } from '../../tasks/define-task.js';

export const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;

export const errorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'INVALID_PAYLOAD' }),
      message: z.string(),
      details: z.unknown().optional().meta({ description: 'For 422: one `{ path, message }` per bad field' }),
    }),
  })
  .meta({ id: 'Error' });

export const enqueueQuery = z.object({
  delay_ms: z.coerce
    .number()
    .int()
    .min(0)
    .max(365 * 86_400_000)
    .optional()
    .meta({ description: 'Milliseconds before the job may run' }),
  priority: z.coerce
    .number()
    .int()
    .min(1)
    .max(2_097_152)
    .optional()
    .meta({ description: "BullMQ priority, 1 highest (default: the task's own)" }),
});

export const idempotencyHeader = z.object({
  'idempotency-key': z.string().min(1).max(255).optional().meta({
    description: 'The same key and body again answer 200 with the first job; another body answers 422',
  }),
});

export const enqueued = z
  .object({
    job_id: z.string(),
    task: z.string(),
    queue: z.enum(QUEUE_NAMES),
    status: z.string().meta({ description: "`queued` when accepted; on a replay, the first job's state" }),
  })
  .meta({ id: 'Enqueued' });

export const jobView = z
  .object({
    id: z.string(),
    task: z.string(),
    queue: z.enum(QUEUE_NAMES),
    state: z.string().meta({ example: 'completed' }),
    attempts: z.number().int(),
    created_at: z.string().meta({ format: 'date-time' }),
    started_at: z.string().nullable().meta({ format: 'date-time' }),
    finished_at: z.string().nullable().meta({ format: 'date-time' }),
    result: z.unknown().optional().meta({ description: 'Redacted: addresses masked, codes replaced' }),
    failed_reason: z.string().optional(),
  })
  .meta({ id: 'Job' });

export const jobIdParams = z.object({
  id: z.string().meta({ description: 'The job id (the Enqueued job_id)' }),
});

export const jobLookupQuery = z.object({
  queue: z.enum(QUEUE_NAMES).optional().meta({
    description: 'Only needed when the same id exists in several queues (plain numeric BullMQ ids)',
  }),
});

export const listJobsQuery = z.object({
  state: z.enum(JOB_STATES).optional(),
  task: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(100).optional().meta({ description: 'The next_cursor of the previous page' }),
});

export const jobPage = z
  .object({ jobs: z.array(jobView), next_cursor: z.string().nullable() })
  .meta({ id: 'JobPage' });

export const queueCounts = z
  .object({
    waiting: z.number().int(),
    active: z.number().int(),
    delayed: z.number().int(),
    completed: z.number().int(),
    failed: z.number().int(),
  })
  .meta({ id: 'QueueCounts' });

export const stats = z
  .object({
    queues: z.record(z.enum(QUEUE_NAMES), queueCounts),
    total: queueCounts,
    tasks: z.array(z.object({ name: z.string(), queue: z.enum(QUEUE_NAMES) })),
    workers: z.array(
      z.object({
        id: z.string(),
        kind: z.string(),
        name: z.string(),
        host: z.string(),
        pid: z.number().int(),
        queues: z.array(z.string()),
        concurrency: z.number().int(),
        uptime_s: z.number(),
        jobs_processed: z.number().int(),
        jobs_failed: z.number().int(),
        last_heartbeat: z.string(),
      }),
    ),
  })
  .meta({ id: 'Stats' });

export const deadLetterIdParams = z.object({
  id: z.string().max(600).meta({ description: 'The dead letter id: `<queue>/<job id>` for a failed job' }),
});

export const listDeadLettersQuery = z.object({
  task: z.string().max(200).optional(),
  since_hours: z.coerce.number().positive().max(87_600).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const deadLetterView = z
  .object({
    id: z.string(),
    at: z.string().meta({ format: 'date-time', description: 'When it was dead-lettered' }),
    source: z.string().meta({ example: 'email-workers' }),
    origin: z.string().meta({ description: 'The queue, Celery queue, stream or channel' }),
    task: z.string().optional(),
    code: z.string().meta({ example: 'RETRIES_EXHAUSTED' }),
    reason: z.string(),
    recipient: z.string().optional().meta({ description: 'Masked' }),
    attempts: z.number().int().optional(),
    job_id: z.string().optional(),
    history: z.array(z.string()).optional(),
    message: z.unknown().optional().meta({ description: 'Redacted: addresses masked, codes replaced' }),
  })
  .meta({ id: 'DeadLetter' });

export const deadLetterPage = z.object({ dead_letters: z.array(deadLetterView) });

export const replayResult = z
  .object({
    id: z.string(),
    replayed: z.literal(true),
    detail: z.string().meta({ example: 'back on auth_emails as job 17' }),
  })
  .meta({ id: 'Replayed' });
