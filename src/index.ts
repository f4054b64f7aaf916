/**
 * What producers import: the typed client, the task names and their payload types. Loads neither nodemailer
 * nor pg; the workers live behind `email-workers/workers`.
 */
export {
  closeDefaultClient,
  createEmailClient,
  enqueue,
  enqueueMany,
  jobIdForKey,
  type EmailClient,
  type EmailClientOptions,
  type EnqueueOptions,
  type EnqueueRequest,
  type PayloadOf,
} from './client.js';
export { TASK_NAMES, findTask, tasks, type TaskName } from './tasks/registry.js';
export { queuePrefix } from './queues/connection.js';
export type { RedisNode, RedisTarget } from './config.js';
export { QUEUE_NAMES, type QueueName, type HealthReport } from './tasks/define-task.js';
export type { EmailSentResult } from './tasks/send-templated-email.js';
export {
  EmailWorkersError,
  InvalidPayloadError,
  PermanentError,
  QueueUnavailableError,
  TransientError,
  UnknownTaskError,
} from './errors.js';
