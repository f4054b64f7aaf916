/**
 * What producers import: the client package (`@email-workers/client`) re-exported, so
 * `import { enqueue } from 'email-workers'` keeps working, plus the workers' lookup of task definitions. Loads
 * neither nodemailer nor pg; the workers live behind `email-workers/workers`.
 */
export * from '@email-workers/client';
export { findTask, tasks } from './tasks/registry.js';
export type { HealthReport } from './tasks/define-task.js';
export type { EmailSentResult } from './tasks/send-templated-email.js';
