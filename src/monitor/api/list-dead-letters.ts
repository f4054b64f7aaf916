/** `GET /api/dead-letters?task=&since_hours=&limit=`: the dead letters, newest first, redacted. */
import type { ApiHandler } from './context.js';
import { viewDeadLetter } from './dead-letter-view.js';
import { parseQuery } from './parse-query.js';
import { listDeadLettersQuery } from './schemas.js';

export const listDeadLetters: ApiHandler = async (request, context) => {
  const query = parseQuery(listDeadLettersQuery, request.query);
  const letters = await context.deadLetters.list({
    task: query.task,
    since: query.since_hours ? new Date(Date.now() - query.since_hours * 3_600_000) : undefined,
    limit: query.limit,
  });
  return { status: 200, body: { dead_letters: letters.map(viewDeadLetter) } };
};
