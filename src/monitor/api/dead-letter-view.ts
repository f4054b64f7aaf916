/** A dead letter as the API and the pages show it: redacted like a job (addresses masked, codes replaced). */
import type { z } from 'zod';
import type { DeadLetterView } from '../../queues/dead-letter-admin.js';
import { maskEmailsIn } from '../../logger.js';
import { redactDeep, redactJobValue } from '../redact.js';
import type { deadLetterView } from './schemas.js';

export function viewDeadLetter(letter: DeadLetterView): z.output<typeof deadLetterView> {
  const data = letter.data;
  const text = (value: unknown) => (value === undefined ? undefined : maskEmailsIn(String(value)));
  return {
    id: letter.id,
    at: letter.at.toISOString(),
    source: String(data.source ?? ''),
    origin: String(data.origin ?? ''),
    task: text(data.task),
    code: String(data.code ?? ''),
    reason: maskEmailsIn(String(data.reason ?? '')),
    recipient: text(data.recipient),
    attempts: typeof data.attempts === 'number' ? data.attempts : undefined,
    job_id: text(data.job?.id ?? data.message_id),
    history: Array.isArray(data.history) ? (redactDeep(data.history) as string[]) : undefined,
    message: redactJobValue(data.message),
  };
}
