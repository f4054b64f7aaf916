/**
 * `POST /api/dead-letters/:id/replay`: the letter's job back on its queue with a fresh attempt budget and the same
 * idempotency key (see queues/dead-letter-admin.ts); a refusal (expired, job gone, not a job) answers 409.
 */
import { maskEmailsIn } from '../../logger.js';
import { ApiError } from './api-error.js';
import type { ApiHandler } from './context.js';

export const replayDeadLetter: ApiHandler = async (request, context) => {
  const id = request.params.id ?? '';
  const result = await context.deadLetters.replay(id);
  if (result.replayed) return { status: 200, body: { ...result, id: maskEmailsIn(result.id) } };
  if (result.detail === 'no such dead letter') {
    throw new ApiError(404, 'DEAD_LETTER_NOT_FOUND', `no dead letter ${maskEmailsIn(id)}`);
  }
  throw new ApiError(409, 'DEAD_LETTER_NOT_REPLAYED', `${maskEmailsIn(id)} not replayed: ${result.detail}`);
};
