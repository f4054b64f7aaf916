/**
 * The relay's quota, EMAIL_RATE_LIMIT, for the whole service: one token bucket in Redis that every queue and
 * replica takes from, one Lua script per take. Throttling replies from the relay ("454 Throttling failure",
 * "421 too many messages") lower a shared factor on that rate — halved at most once a second, down to 1/32 — and
 * the factor climbs back linearly over THROTTLE_RECOVERY_MS, so the service slows down together and speeds up
 * gradually instead of every job meeting the throttle on its own.
 */
import { QuotaExceededError } from '../errors.js';
import type { SendRate } from '../config.js';
import type { RedisConnection } from './connection.js';

/** From the lowest factor back to the full rate. */
export const THROTTLE_RECOVERY_MS = 60_000;
const MIN_FACTOR = 1 / 32;
/** Replies of the sends in flight arrive together: one halving per this long. */
const SLOW_DOWN_COOLDOWN_MS = 1_000;
/** Without EMAIL_RATE_LIMIT there is no quota, until a throttling reply: then the service starts from this. */
export const THROTTLED_BASE_RATE: SendRate = { perSecond: 10, burst: 10 };
/** A wait longer than this goes back to the queue (without charge) rather than holding its job and slot. */
const MAX_WAIT_IN_PROCESS_MS = 2_000;
/** Without EMAIL_RATE_LIMIT: how long one answer "not slowed down" holds in a process. */
const UNLIMITED_RECHECK_MS = 1_000;

const FACTOR = `
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function factor(now, recovery)
  local bp = redis.call('HMGET', KEYS[2], 'factor', 'ts')
  if not bp[1] then return 1 end
  return math.min(1, tonumber(bp[1]) + (now - tonumber(bp[2])) / recovery)
end
`;

// ARGV: rate per second, burst, recovery ms, limited (1: a quota is configured; 0: only while slowed down).
// Returns 0 when a token was taken, -1 when no quota applies (none configured, none slowed), else the ms until the
// next token.
const TAKE = `${FACTOR}
local now = clock()
local f = factor(now, tonumber(ARGV[3]))
if ARGV[4] == '0' and f >= 1 then return -1 end
local perMs = tonumber(ARGV[1]) * f / 1000
-- While slowed down the burst shrinks too: a full bucket must not send a burst into the throttle.
local cap = math.max(1, tonumber(ARGV[2]) * f)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = cap
if b[1] then tokens = math.min(cap, tonumber(b[1]) + math.max(0, now - tonumber(b[2])) * perMs) end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / perMs) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], 60000)
return wait`;

// ARGV: recovery ms, minimum factor, cooldown ms. Returns the factor now, in thousandths.
const SLOW_DOWN = `${FACTOR}
local now = clock()
local f = factor(now, tonumber(ARGV[1]))
local last = tonumber(redis.call('HGET', KEYS[2], 'last') or '0')
if now - last >= tonumber(ARGV[3]) then
  f = math.max(tonumber(ARGV[2]), f / 2)
  redis.call('HSET', KEYS[2], 'factor', tostring(f), 'ts', now, 'last', now)
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[1]) * 2)
end
return math.floor(f * 1000)`;

const READ_FACTOR = `${FACTOR}
return math.floor(factor(clock(), tonumber(ARGV[1])) * 1000)`;

export interface SendQuota {
  /**
   * Waits for a slot (a short wait in process); throws QuotaExceededError when the next one is further away, so
   * the job goes back to the queue without charge.
   */
  take(signal?: AbortSignal): Promise<void>;
  /** The relay said "slow down": lowers the shared rate. Returns the factor now (1 = full speed). */
  slowDown(): Promise<number>;
  /** The factor now, 1 = full speed. */
  factor(): Promise<number>;
}

export function createSendQuota(
  redis: RedisConnection,
  prefix: string,
  rate: SendRate | undefined,
): SendQuota {
  // One hash tag: both keys in one slot, so one script may touch them in a Cluster.
  const keys = [`{${prefix}:quota}:bucket`, `{${prefix}:quota}:backpressure`];
  const { perSecond, burst } = rate ?? THROTTLED_BASE_RATE;
  // Without a quota, full speed is known for a second at a time rather than asked of Redis for every email.
  let unlimitedUntil = 0;
  // Runs of this process wait for the bucket in line, one asking Redis at a time: a crowd of runs each polling
  // for the same next token would spend the machine's CPU on polling (and starve the sends it waits for).
  let line: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  const takeInTurn = async (signal: AbortSignal | undefined): Promise<void> => {
    for (;;) {
      signal?.throwIfAborted();
      const wait = Number(
        await redis.eval(TAKE, 2, ...keys, perSecond, burst, THROTTLE_RECOVERY_MS, rate ? 1 : 0),
      );
      if (wait < 0) unlimitedUntil = Date.now() + UNLIMITED_RECHECK_MS;
      if (wait <= 0) return;
      if (wait > MAX_WAIT_IN_PROCESS_MS) throw new QuotaExceededError(wait);
      await sleep(wait, signal);
    }
  };
  return {
    async take(signal) {
      if (Date.now() < unlimitedUntil) return;
      // A line longer than a couple of seconds' worth goes back to the queue instead, without charge.
      const lineMs = (waiting * 1000) / perSecond;
      if (waiting > 0 && lineMs > MAX_WAIT_IN_PROCESS_MS) throw new QuotaExceededError(lineMs);
      waiting++;
      const turn = line.then(() => takeInTurn(signal));
      line = turn.catch(() => undefined);
      try {
        await turn;
      } finally {
        waiting--;
      }
    },
    async slowDown() {
      unlimitedUntil = 0;
      const f = await redis.eval(
        SLOW_DOWN,
        2,
        ...keys,
        THROTTLE_RECOVERY_MS,
        MIN_FACTOR,
        SLOW_DOWN_COOLDOWN_MS,
      );
      return Number(f) / 1000;
    },
    async factor() {
      return Number(await redis.eval(READ_FACTOR, 2, ...keys, THROTTLE_RECOVERY_MS)) / 1000;
    },
  };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}
