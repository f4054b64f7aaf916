/** Query strings validated by a zod schema; a bad value answers 422 naming the parameter. */
import type { z } from 'zod';
import { invalid } from './api-error.js';

export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  throw invalid(parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })));
}
