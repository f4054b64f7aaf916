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
  if (deeperThan(data, MAX_DEPTH)) {
    throw new InvalidPayloadError(task.name, [
      { field: '', message: `nested more than ${MAX_DEPTH} levels deep` },
    ]);
  }
  const parsed = task.schema.safeParse(dropNulls(data ?? {}));
  if (parsed.success) return parsed.data;
  throw new InvalidPayloadError(
    task.name,
    parsed.error.issues.map((issue) => ({ field: issue.path.join('.'), message: issue.message })),
  );
}

/**
 * How deep a payload may nest, unknown keys included. The contract's payloads are two levels deep; a few
 * thousand levels (a 64 KiB body holds that many) overflow the stack of every recursive walk after this one
 * (dropNulls, JSON.stringify on the way to Redis), which would fail as an internal error instead of a refusal.
 */
const MAX_DEPTH = 64;

/** Walked with a stack of its own: the check must not overflow where the walks it guards would. */
function deeperThan(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > limit) return true;
    for (const inner of Object.values(current)) pending.push([inner, depth + 1]);
  }
  return false;
}
