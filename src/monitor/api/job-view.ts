/** A BullMQ job as the API shows it: redacted as on the board. */
import type { Job } from 'bullmq';
import type { z } from 'zod';
import { maskEmailsIn } from '../../logger.js';
import type { QueueName } from '../../tasks/define-task.js';
import { findTask } from '../../tasks/registry.js';
import { redactJobValue } from '../redact.js';
import type { jobView } from './schemas.js';

export type JobView = z.infer<typeof jobView>;

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

export function viewJob(job: Job, state: string): JobView {
  const view: JobView = {
    id: String(job.id),
    task: findTask(job.name)?.name ?? job.name,
    queue: job.queueName as QueueName,
    state: state === 'prioritized' || state === 'wait' ? 'waiting' : state,
    attempts: job.attemptsStarted,
    created_at: new Date(job.timestamp).toISOString(),
    started_at: iso(job.processedOn),
    finished_at: iso(job.finishedOn),
  };
  if (state === 'completed') view.result = redactJobValue(job.returnvalue);
  if (job.failedReason) view.failed_reason = maskEmailsIn(job.failedReason);
  return view;
}
