/**
 * Redis connections in the two shapes BullMQ needs: workers block and must wait out an outage
 * (`maxRetriesPerRequest: null`); producers must fail fast instead of queueing commands while Redis is down.
 */
import { Redis, type RedisOptions } from 'ioredis';

export type ConnectionRole = 'worker' | 'producer';

export function redisOptions(role: ConnectionRole): RedisOptions {
  const common: RedisOptions = {
    // Reconnect quickly at first, then every 2 s: a restarted Redis is back within a few seconds.
    retryStrategy: (times) => Math.min(100 * times, 2_000),
    connectionName: `email-workers:${role}`,
  };
  if (role === 'worker') return { ...common, maxRetriesPerRequest: null, enableReadyCheck: true };
  return {
    ...common,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1_000,
    commandTimeout: 2_000,
  };
}

export function createRedis(url: string, role: ConnectionRole, onError: (error: Error) => void): Redis {
  const redis = new Redis(url, { ...redisOptions(role), lazyConnect: role === 'producer' });
  redis.on('error', onError);
  return redis;
}

/** Resolves when the connection is ready, or rejects after `timeoutMs` without sending anything. */
export function waitUntilReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  if (redis.status === 'wait') redis.connect().catch(() => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis not ready after ${timeoutMs} ms (${redis.status})`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
