/**
 * The one way a payload is validated, by the client before enqueue and by the worker before it runs.
 */
import { InvalidPayloadError } from '../errors.js';
import type { z } from 'zod';

/**
 * Python producers send `None` for an argument they leave out; it arrives as JSON `null` and means "absent",
 * so the field's default applies instead of a type error.
 */
export function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value === null || typeof value !== 'object') return value;
  const result: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) if (inner !== null) result[key] = dropNulls(inner);
  return result;
}

/** The schema's output (defaults applied), or InvalidPayloadError naming each bad field. */
export function parsePayload(task: { name: string; schema: z.ZodType }, data: unknown): unknown {
  const parsed = task.schema.safeParse(dropNulls(data ?? {}));
  if (parsed.success) return parsed.data;
  throw new InvalidPayloadError(
    task.name,
    parsed.error.issues.map((issue) => ({ field: issue.path.join('.'), message: issue.message })),
  );
}
