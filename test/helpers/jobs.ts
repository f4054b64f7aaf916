/**
 * Enqueue-and-wait steps shared by the integration tests: a job that is delivered (with the message the SMTP
 * sink received for it), and a job that ends in the failed set.
 */
import { expect } from 'vitest';
import { Job } from 'bullmq';
import type { EmailClient } from '@email-workers/client';
import { TASK_NAMES, tasks } from '../../src/tasks/registry.js';
import type { ParsedMail } from 'mailparser';
import type { QueueName } from '../../src/tasks/define-task.js';
import type { SmtpSink } from './smtp-sink.js';
import type { TestWorkers } from './workers.js';

/** The first To address of a parsed message. */
export function recipientOf(mail: ParsedMail): string | undefined {
  return mail.to && 'value' in mail.to ? mail.to.value[0]?.address : undefined;
}

const bareId = (id: string | undefined) => id?.replace(/^<|>$/g, '');

/** Enqueues with plain BullMQ, waits for the job to complete and returns its result and the accepted message. */
export async function deliver(
  w: TestWorkers,
  smtp: SmtpSink,
  queue: QueueName,
  name: string,
  data: Record<string, unknown>,
) {
  const job = await w.queue(queue).add(name, data);
  const result = await job.waitUntilFinished(await w.events(queue), 15_000);
  const mail = smtp.messages.find((m) => bareId(m.messageId) === bareId(result.message_id));
  expect(mail, 'message received by the SMTP server').toBeDefined();
  return { job, result, mail: mail as ParsedMail };
}

/** Waits for the job to fail for good and returns it reloaded from Redis. */
export async function failedJob(w: TestWorkers, job: Job, timeoutMs = 15_000): Promise<Job> {
  const queue = job.queueName as QueueName;
  await expect(job.waitUntilFinished(await w.events(queue), timeoutMs)).rejects.toThrow();
  const reloaded = await w.queue(queue).getJob(job.id!);
  expect(await reloaded?.getState()).toBe('failed');
  return reloaded!;
}

/**
 * Enqueues every task's sample through the typed client (one idempotency key each, `<label>-<task>`), waits for
 * each job to finish and returns the results, in TASK_NAMES order (health_check last).
 */
export async function deliverEveryTask(client: EmailClient, w: TestWorkers, label: string) {
  const ids = await Promise.all(
    TASK_NAMES.map((name) =>
      client.enqueue(name, tasks[name].sample as never, { idempotencyKey: `${label}-${name}` }),
    ),
  );
  return Promise.all(
    TASK_NAMES.map(async (name, i) => {
      const queue = tasks[name].queue;
      const job = await Job.fromId(w.queue(queue), ids[i]!);
      return job!.waitUntilFinished(await w.events(queue), 20_000);
    }),
  );
}
