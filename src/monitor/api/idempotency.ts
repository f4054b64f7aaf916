/**
 * `Idempotency-Key` for `POST /api/tasks/:name`. The key becomes the job id `<task>~<key>` (the typed client's
 * mapping, and the ledger's idempotency key); beside the job, Redis keeps a fingerprint of the first request's
 * body for a day, so the same key with another body is told apart from a replay, beside the task's queue (in a
 * Redis Cluster `<prefix>` is that queue's hash tag, so the record shares its slot):
 *   <prefix>:<queue>:api-idempotency:<job id>   string: sha256 of the body and options, 24 h
 */
import { createHash } from 'node:crypto';
import type { RedisConnection } from '../../queues/connection.js';

const RECORD_TTL_S = 86_400;

export type KeyUse = 'first' | 'replay' | 'mismatch';

export async function useIdempotencyKey(
  redis: RedisConnection,
  queuePrefix: string,
  queue: string,
  jobId: string,
  request: unknown,
): Promise<KeyUse> {
  const key = `${queuePrefix}:${queue}:api-idempotency:${jobId}`;
  const fingerprint = createHash('sha256').update(canonicalJson(request)).digest('hex');
  const set = await redis.set(key, fingerprint, 'EX', RECORD_TTL_S, 'NX');
  if (set === 'OK') return 'first';
  return (await redis.get(key)) === fingerprint ? 'replay' : 'mismatch';
}

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` are the same body. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
