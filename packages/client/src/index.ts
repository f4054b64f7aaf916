/**
 * @email-workers/client: what a producer needs to send email tasks to the email-workers service. Task names,
 * payload schemas and types, enqueue, results back to the caller, and the errors a producer meets; nothing of
 * the workers (no nodemailer, no pg).
 */
export {
  closeDefaultClient,
  createEmailClient,
  enqueue,
  enqueueAndWait,
  enqueueMany,
  getTaskStatus,
  jobIdForKey,
  type EmailClient,
  type EmailClientOptions,
  type EnqueueOptions,
  type EnqueueRequest,
  type PayloadOf,
  type TaskResult,
  type WaitOptions,
} from './client.js';
export type { TaskState, TaskStatus } from './results.js';
export { TASK_NAMES, contracts, type Contracts, type TaskName } from './tasks/contracts.js';
export { QUEUE_NAMES, type QueueName, type RetryPolicy, type TaskContract } from './tasks/define-contract.js';
export type { Payloads } from './payloads.js';
export { queuePrefix } from './connection.js';
export { loadClientConfig, type ClientConfig, type RedisNode, type RedisTarget } from './config.js';
export {
  AmbiguousJobIdError,
  ConfigError,
  EmailWorkersError,
  InvalidPayloadError,
  PermanentError,
  QueueUnavailableError,
  TaskFailedError,
  TransientError,
  UndecryptablePayloadError,
  UnknownTaskError,
  WaitTimeoutError,
  type Dependency,
  type FieldProblem,
} from './errors.js';
