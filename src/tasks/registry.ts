/**
 * Every task the workers run, one explicit import a line (no directory scanning), and the lookups the queues
 * need. Each is its contract from the client package plus a handler; the names are the contracts'.
 */
import { TASK_NAMES, contracts, type TaskName } from '@email-workers/client/internal';
import type { TaskDefinition } from './define-task.js';
import health_check from './health_check.js';
import send_booking_cancellation from './send_booking_cancellation.js';
import send_booking_confirmation from './send_booking_confirmation.js';
import send_otp_verification_email from './send_otp_verification_email.js';
import send_waitlist_cancellation from './send_waitlist_cancellation.js';
import send_waitlist_joined from './send_waitlist_joined.js';
import send_waitlist_notification from './send_waitlist_notification.js';
import send_welcome_email from './send_welcome_email.js';

export const tasks = {
  send_otp_verification_email,
  send_welcome_email,
  send_booking_confirmation,
  send_booking_cancellation,
  send_waitlist_notification,
  send_waitlist_joined,
  send_waitlist_cancellation,
  health_check,
} as const;

export type Tasks = typeof tasks;

if (
  TASK_NAMES.some((name) => !Object.hasOwn(tasks, name)) ||
  Object.keys(tasks).length !== TASK_NAMES.length
) {
  throw new Error('the workers must run every task of the contract, and no other');
}
export { TASK_NAMES, type TaskName };

for (const [key, task] of Object.entries(tasks)) {
  // Every task is its contract plus a handler: the same schema object, never a copy.
  if (task.schema !== contracts[key as TaskName]?.schema) {
    throw new Error(`registry key ${key} holds task ${task.name}, not the contract of ${key}`);
  }
}

/** Names the old Celery service registered: `email_workers.tasks.send_welcome_email` and the like. */
const QUALIFIED = /^(?:[A-Za-z_][\w]*\.)+(\w+)$/;

/** The task a job name means, the old qualified names included; undefined when unknown. */
export function findTask(jobName: string): TaskDefinition | undefined {
  const name = QUALIFIED.exec(jobName)?.[1] ?? jobName;
  return Object.hasOwn(tasks, name) ? (tasks[name as TaskName] as TaskDefinition) : undefined;
}
