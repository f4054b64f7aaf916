/**
 * For the email-workers service itself (`@email-workers/client/internal`), not for producers: the pieces of the
 * contract and of the Redis connection the workers share with the client, so that neither keeps a copy.
 */
export * from './index.js';
export * from './config.js';
export * from './connection.js';
export * from './results.js';
export * from './tasks/schemas.js';
export * from './tasks/parse-payload.js';
export * from './tasks/locale.js';
export * from './tasks/mailbox.js';
export { defineContract } from './tasks/define-contract.js';
export * from './tasks/contracts.js';
export { health_check } from './tasks/health_check.js';
export { send_booking_cancellation } from './tasks/send_booking_cancellation.js';
export { send_booking_confirmation } from './tasks/send_booking_confirmation.js';
export { send_otp_verification_email } from './tasks/send_otp_verification_email.js';
export { send_waitlist_cancellation } from './tasks/send_waitlist_cancellation.js';
export { send_waitlist_joined } from './tasks/send_waitlist_joined.js';
export { send_waitlist_notification } from './tasks/send_waitlist_notification.js';
export { send_welcome_email } from './tasks/send_welcome_email.js';
export * from './json-schema.js';
export * from './payload-crypto.js';
