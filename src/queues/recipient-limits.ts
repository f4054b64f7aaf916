/**
 * RECIPIENT_LIMITS: at most N emails of a task to one address per window, across every replica. One Lua script
 * per check, so twenty simultaneous OTPs from three processes see one count. The window slides (a sorted set of
 * sends by time); each email is one member, named by a hash of its idempotency key, so a retry of the same email
 * does not count twice. Key names carry a hash of the address, never the address.
 */
import { createHash } from 'node:crypto';
import type { RecipientLimit } from '../config.js';
import type { RedisConnection } from './connection.js';

// Redis's own clock: replicas whose clocks differ still share one window.
const TAKE_SLOT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 1`;

export interface RecipientLimits {
  /** The task's limit, if it has one. */
  limitOf(task: string): RecipientLimit | undefined;
  /** Takes a slot for this email (`key`: its idempotency key); false when the address had its share. */
  take(task: string, address: string, key: string): Promise<boolean>;
}

/** `keyPrefix`: `<QUEUE_PREFIX>`, or in a Cluster `{<QUEUE_PREFIX>:limits}` (connection.ts's queuePrefix). */
export function createRecipientLimits(
  redis: RedisConnection,
  keyPrefix: string,
  limits: Readonly<Record<string, RecipientLimit>>,
): RecipientLimits {
  const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);
  return {
    limitOf: (task) => (Object.hasOwn(limits, task) ? limits[task] : undefined),
    async take(task, address, key) {
      const limit = Object.hasOwn(limits, task) ? limits[task] : undefined;
      if (!limit) return true;
      const name = `${keyPrefix}:limits:recipient:${task}:${hash(address.trim().toLowerCase())}`;
      const taken = await redis.eval(TAKE_SLOT, 1, name, String(limit.windowS * 1000), limit.max, hash(key));
      return Number(taken) === 1;
    },
  };
}
