/**
 * A Celery task call → the client's request for the same task: positional arguments land on the old task's
 * parameters (bench/celery/email_workers/tasks.py models its signatures), merged with the keyword arguments;
 * the Celery task id is the idempotency key; eta/countdown, expires and priority become the job's delay, expiry
 * and priority.
 */
import type { EnqueueRequest } from '@email-workers/client';
import { InvalidPayloadError, UndecodableMessageError, UnknownTaskError } from '../errors.js';
import { TASK_NAMES, findTask, type TaskName } from '../tasks/registry.js';
import type { CeleryTask } from './celery-message.js';

/** The old service's task signatures, `self` left out. */
export const OLD_PARAMETERS = {
  send_otp_verification_email: ['task_data'],
  send_welcome_email: ['task_data'],
  send_booking_confirmation: ['user_id', 'booking_data'],
  send_booking_cancellation: ['user_id', 'cancellation_data'],
  send_waitlist_notification: ['user_id', 'waitlist_data'],
  send_waitlist_joined: ['user_id', 'waitlist_data'],
  send_waitlist_cancellation: ['user_id', 'waitlist_data'],
  health_check: [],
} as const satisfies Record<TaskName, readonly string[]>;

export type CeleryTransport = 'redis' | 'amqp';

export function toEnqueueRequest(
  call: CeleryTask,
  priority: number | undefined,
  transport: CeleryTransport,
  now: number,
): EnqueueRequest {
  const task = findTask(call.task);
  if (!task) throw new UnknownTaskError(call.task, TASK_NAMES);
  const name = task.name as TaskName;
  const delay = call.eta ? Math.max(0, call.eta.getTime() - now) : undefined;
  return {
    name,
    payload: payloadOf(name, call) as never,
    options: {
      idempotencyKey: call.id,
      ...(delay ? { delay } : {}),
      ...(call.expires ? { expiresAt: call.expires } : {}),
      ...bullmqPriority(priority, transport),
    },
  };
}

/** Binds arguments as Python would, then unwraps `task_data` for the tasks that took one dict. */
function payloadOf(name: TaskName, call: CeleryTask): Record<string, unknown> {
  const parameters: readonly string[] = OLD_PARAMETERS[name];
  if (call.args.length > parameters.length) {
    throw new UndecodableMessageError(
      `${name}() takes ${parameters.length} positional argument${parameters.length === 1 ? '' : 's'} but ` +
        `${call.args.length} were given`,
    );
  }
  const bound: Record<string, unknown> = { ...call.kwargs };
  call.args.forEach((value, index) => {
    const parameter = parameters[index]!;
    if (Object.hasOwn(call.kwargs, parameter)) {
      throw new UndecodableMessageError(`${name}() got multiple values for argument '${parameter}'`);
    }
    bound[parameter] = value;
  });
  if (parameters[0] !== 'task_data' || !Object.hasOwn(bound, 'task_data')) return bound;
  const { task_data: taskData, ...others } = bound;
  if (typeof taskData !== 'object' || taskData === null || Array.isArray(taskData)) {
    throw new InvalidPayloadError(name, [{ field: 'task_data', message: 'expected a dict' }]);
  }
  // Keyword arguments beside task_data (a locale, a correlation id) join it; task_data's own keys win.
  return { ...others, ...(taskData as Record<string, unknown>) };
}

/**
 * BullMQ runs priority 1 first. A message without a priority (Redis sends 0, its default and highest) keeps the
 * task's own (OTP 1, welcome 5, none for the rest). Redis: 0 first, 9 last, so 1–9 → 2–10. RabbitMQ: the higher
 * the sooner, so 1–9 → 9–1 (and above 9 → 1).
 */
export function bullmqPriority(
  priority: number | undefined,
  transport: CeleryTransport,
): { priority?: number } {
  if (priority === undefined || !Number.isFinite(priority) || priority <= 0) return {};
  const level = Math.min(9, Math.floor(priority));
  return { priority: transport === 'redis' ? level + 1 : 10 - level };
}
