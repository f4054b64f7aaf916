/**
 * The idempotency key of a job's email: the producer's key when it gave one (the client's `<task>~<key>` job id,
 * or any custom job id), else one derived from the job that no other job shares (BullMQ's numeric ids restart
 * after a Redis flush, so the queue, prefix and creation time go in too).
 */
export function deliveryKey(
  task: string,
  job: { id?: string | undefined; queueName: string; timestamp: number },
  prefix: string,
): string {
  const id = String(job.id);
  if (id.startsWith(`${task}~`)) return id;
  if (/^\d+$/.test(id)) return `${task}~auto:${prefix}/${job.queueName}/${id}/${job.timestamp}`;
  return `${task}~${id}`;
}
