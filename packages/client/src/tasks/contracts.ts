/**
 * Every task's contract, one explicit import a line, and the names a producer may send. The workers' registry
 * (src/tasks/registry.ts) adds a handler to each and checks that none is missing.
 */
import { health_check } from './health_check.js';
import { send_booking_cancellation } from './send_booking_cancellation.js';
import { send_booking_confirmation } from './send_booking_confirmation.js';
import { send_otp_verification_email } from './send_otp_verification_email.js';
import { send_waitlist_cancellation } from './send_waitlist_cancellation.js';
import { send_waitlist_joined } from './send_waitlist_joined.js';
import { send_waitlist_notification } from './send_waitlist_notification.js';
import { send_welcome_email } from './send_welcome_email.js';

export const contracts = {
  send_otp_verification_email,
  send_welcome_email,
  send_booking_confirmation,
  send_booking_cancellation,
  send_waitlist_notification,
  send_waitlist_joined,
  send_waitlist_cancellation,
  health_check,
} as const;

export type Contracts = typeof contracts;
export type TaskName = keyof Contracts;
export const TASK_NAMES = Object.keys(contracts) as TaskName[];

for (const [key, contract] of Object.entries(contracts)) {
  if (key !== contract.name) throw new Error(`contracts key ${key} holds task ${contract.name}`);
}
