/**
 * Celery messages from kombu's Redis transport: one list per queue (LPUSH by the producer, so the oldest is on the
 * right) and, for priorities, sub-lists `<queue>\x06\x16<step>` for steps 3, 6 and 9, read after the queue itself.
 *
 * Nothing is lost to a crash: each message is moved atomically (in a Lua script, or BRPOPLPUSH) into this
 * bridge's processing list, and removed from there only after the batch's jobs (or dead letters) exist. At start
 * the bridge handles what its processing list still holds, and adopts the lists of bridges whose lease has run
 * out (a bridge that died and will not come back under its name). A lease per name keeps two live bridges from
 * sharing a list.
 */
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { redisOptions } from '../queues/connection.js';
import type { CeleryConsumer, CeleryDelivery, CeleryEnvelope } from './celery-message.js';
import type { BridgeMetrics } from './metrics.js';

/** kombu's separator and priority steps (the default `priority_steps`). */
const SEPARATOR = '\x06\x16';
const PRIORITY_STEPS = [0, 3, 6, 9];
const KEY_PREFIX = 'email-workers:celery-bridge';
const LEASE_MS = 30_000;
const RENEW_MS = 10_000;
/** How long an idle bridge waits on the queues before it looks at the priority sub-lists again. */
const BLOCK_S = 1;

// Tops the processing list up to ARGV[1] messages from the sources in order, then returns the oldest ARGV[1].
const FETCH = `
local room = tonumber(ARGV[1]) - redis.call('LLEN', KEYS[1])
for i = 2, #KEYS do
  while room > 0 do
    if not redis.call('RPOPLPUSH', KEYS[i], KEYS[1]) then break end
    room = room - 1
  end
end
return redis.call('LRANGE', KEYS[1], -tonumber(ARGV[1]), -1)`;

// Moves a processing list whose bridge's lease is gone into ours; nothing when the lease is back.
const ADOPT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local moved = 0
while redis.call('RPOPLPUSH', KEYS[1], KEYS[3]) do moved = moved + 1 end
return moved`;

// Removes a handled batch from the processing list, each message by its text (from the oldest end): only what
// this bridge handled goes, even if a bridge of the same name moved messages in meanwhile.
const ACKNOWLEDGE = `
for i = 1, #ARGV do redis.call('LREM', KEYS[1], -1, ARGV[i]) end
return #ARGV`;

// Takes or keeps the lease: free, already ours, or held by a dead process on this host (ARGV[3]).
const LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and holder ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

export interface KombuRedisOptions {
  url: string;
  queues: readonly string[];
  /** The bridge's name: its processing list and lease are named after it. */
  name: string;
  batchSize: number;
  metrics: BridgeMetrics;
  logger: Logger;
}

export const processingKey = (name: string) => `${KEY_PREFIX}:${name}:processing`;
const leaseKey = (name: string) => `${KEY_PREFIX}:${name}:lease`;

export async function consumeKombuRedis(options: KombuRedisOptions): Promise<CeleryConsumer> {
  const { queues, name, batchSize, metrics, logger } = options;
  const redis = new Redis(options.url, {
    ...redisOptions('worker'),
    connectionName: 'email-workers:celery-bridge',
  });
  redis.on('error', (error) => logger.error({ err: error.message }, 'Celery broker connection error'));
  const processing = processingKey(name);
  const sources = PRIORITY_STEPS.flatMap((step) =>
    queues.map((queue) => (step === 0 ? queue : `${queue}${SEPARATOR}${step}`)),
  );
  const me = `${processSpace()}:${process.pid}`;

  await acquireLease(redis, name, me, logger);
  let leaseHeld = true;
  const renew = setInterval(() => {
    redis
      .eval(LEASE, 1, leaseKey(name), me, String(LEASE_MS), '')
      .then((held) => {
        if (held === 1 || !leaseHeld) return;
        leaseHeld = false;
        logger.error({ name }, 'lost the processing-list lease to another bridge of this name: pausing');
      })
      .catch(() => undefined);
  }, RENEW_MS);
  renew.unref();
  await adoptOrphans(redis, name, logger);

  // One blocking connection per queue, so an idle bridge wakes as soon as a message arrives on any of them.
  const blockers = queues.map((queue) => {
    const connection = redis.duplicate();
    connection.on('error', () => undefined);
    return { queue, connection, waiting: undefined as Promise<unknown> | undefined };
  });
  const waitForMessage = () =>
    Promise.race(
      blockers.map((blocker) => {
        blocker.waiting ??= blocker.connection
          .brpoplpush(blocker.queue, processing, BLOCK_S)
          .catch(() => new Promise((resolve) => setTimeout(resolve, 1_000)))
          .finally(() => (blocker.waiting = undefined));
        return blocker.waiting;
      }),
    );

  let stopping = false;
  const loop = async (handle: (deliveries: CeleryDelivery[]) => Promise<void>) => {
    while (!stopping) {
      if (!leaseHeld) {
        // Two bridges on one processing list would each take the other's messages for their own.
        try {
          await acquireLease(redis, name, me, logger, () => stopping);
          leaseHeld = true;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
        continue;
      }
      let raw: string[];
      try {
        raw = (await redis.eval(FETCH, 1 + sources.length, processing, ...sources, batchSize)) as string[];
      } catch (error) {
        if (stopping) break;
        logger.error({ err: (error as Error).message }, 'reading the Celery queues failed');
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        continue;
      }
      if (!raw.length) {
        await waitForMessage();
        continue;
      }
      // LRANGE lists the newest first.
      const deliveries = raw.reverse().map((text) => fromKombu(text, queues[0]!));
      try {
        await handle(deliveries);
      } catch (error) {
        // The batch stays in the processing list: the next start (or the next round) takes it again.
        if (stopping) break;
        logger.error({ err: (error as Error).message }, 'bridging a batch failed: trying it again');
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        continue;
      }
      await redis.eval(ACKNOWLEDGE, 1, processing, ...raw);
      for (const delivery of deliveries) metrics.acknowledged(delivery.queue);
    }
  };

  let running: Promise<void> | undefined;
  return {
    start(handle) {
      running = loop(handle);
    },
    async close() {
      stopping = true;
      clearInterval(renew);
      for (const blocker of blockers) blocker.connection.disconnect();
      await running;
      await redis.del(leaseKey(name)).catch(() => undefined);
      redis.disconnect();
    },
  };
}

/** A message as kombu stores it: JSON with the body base64-encoded (`properties.body_encoding`). */
function fromKombu(text: string, fallbackQueue: string): CeleryDelivery {
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(text) as Record<string, unknown>;
    if (typeof message !== 'object' || message === null) throw new Error('not an object');
  } catch {
    return { queue: fallbackQueue, raw: text, envelope: undefined };
  }
  const properties = (message.properties ?? {}) as Record<string, unknown>;
  const deliveryInfo = (properties.delivery_info ?? {}) as Record<string, unknown>;
  const body = typeof message.body === 'string' ? message.body : '';
  const envelope: CeleryEnvelope = {
    body: Buffer.from(body, properties.body_encoding === 'base64' ? 'base64' : 'utf8'),
    contentType: typeof message['content-type'] === 'string' ? message['content-type'] : undefined,
    contentEncoding:
      typeof message['content-encoding'] === 'string' ? message['content-encoding'] : undefined,
    headers: (message.headers ?? {}) as Record<string, unknown>,
    priority: typeof properties.priority === 'number' ? properties.priority : undefined,
  };
  const queue = typeof deliveryInfo.routing_key === 'string' ? deliveryInfo.routing_key : fallbackQueue;
  return { queue, raw: { ...message, body: undefined }, envelope };
}

/**
 * The host and its process-id namespace: a pid means the same process only within one namespace, and containers
 * on the host's network share its host name (a replica's pid 7 is not another replica's pid 7).
 */
function processSpace(): string {
  let namespace = '';
  try {
    namespace = readlinkSync('/proc/self/ns/pid');
  } catch {
    // Not Linux: the host name alone.
  }
  return `${hostname()}:${namespace}`;
}

async function acquireLease(
  redis: Redis,
  name: string,
  me: string,
  logger: Logger,
  stopping: () => boolean = () => false,
): Promise<void> {
  for (let logged = false; !stopping(); logged = true) {
    const holder = await redis.get(leaseKey(name));
    // A holder in this process space whose process is gone (a bridge killed and restarted) is taken over at once.
    const dead = holder && holder.startsWith(`${processSpace()}:`) && !alive(Number(holder.split(':').pop()));
    const taken = await redis.eval(LEASE, 1, leaseKey(name), me, String(LEASE_MS), dead ? holder : '');
    if (taken === 1) return;
    if (!logged) {
      logger.warn({ name, holder }, 'another bridge holds this name: waiting for its lease (or give --name)');
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function adoptOrphans(redis: Redis, name: string, logger: Logger): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${KEY_PREFIX}:*:processing`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const other = key.slice(KEY_PREFIX.length + 1, -':processing'.length);
      if (other === name) continue;
      const moved = Number(await redis.eval(ADOPT, 3, key, leaseKey(other), processingKey(name)));
      if (moved)
        logger.warn({ from: other, messages: moved }, 'adopted the unfinished messages of a dead bridge');
    }
  } while (cursor !== '0');
}
