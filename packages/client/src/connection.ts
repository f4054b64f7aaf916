/**
 * Redis connections in the two shapes BullMQ needs: workers block and must wait out an outage
 * (`maxRetriesPerRequest: null`); producers must fail fast instead of queueing commands while Redis is down.
 * One factory for every mode (one server, Sentinel, Cluster): everything that opens Redis goes through it, and
 * names its queues' keys with {@link queuePrefix}.
 */
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { redisDatabase, type RedisNode, type RedisTarget } from './config.js';

export type ConnectionRole = 'worker' | 'producer';

/** A connection in any mode; BullMQ takes either. */
export type RedisConnection = Redis | Cluster;

// Reconnect quickly at first, then every 2 s: a restarted Redis, or a promoted replica, is back within seconds.
const retryStrategy = (times: number) => Math.min(100 * times, 2_000);

export function redisOptions(role: ConnectionRole): RedisOptions {
  const common: RedisOptions = { retryStrategy, connectionName: `email-workers:${role}` };
  if (role === 'worker') return { ...common, maxRetriesPerRequest: null, enableReadyCheck: true };
  return {
    ...common,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1_000,
    commandTimeout: 2_000,
  };
}

export function createRedis(
  target: RedisTarget,
  role: ConnectionRole,
  onError: (error: Error) => void,
): RedisConnection {
  const lazyConnect = role === 'producer';
  let redis: RedisConnection;
  if (target.mode === 'cluster') {
    redis = new Cluster([...target.nodes], { ...clusterOptions(target.url, role), lazyConnect });
  } else if (target.mode === 'sentinel') {
    const { tls, ...credentials } = credentialsOf(target.url);
    redis = new Redis({
      ...redisOptions(role),
      ...credentials,
      sentinels: target.sentinels.map(({ host, port }) => ({ host, port })),
      name: target.masterName,
      sentinelUsername: target.sentinelUsername,
      sentinelPassword: target.sentinelPassword,
      sentinelRetryStrategy: retryStrategy,
      // One rediss:// means TLS to the sentinels and to the master they name.
      ...(tls ? { tls, enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
      // Reconnects as soon as a sentinel announces a new master, rather than when the old one's socket dies.
      failoverDetector: true,
      // A demoted master answers writes with READONLY: reconnect through the sentinels and resend the command.
      reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
      lazyConnect,
    });
  } else {
    redis = new Redis(target.url, { ...redisOptions(role), lazyConnect });
  }
  redis.on('error', onError);
  return redis;
}

/**
 * The BullMQ `prefix` of one queue. In Cluster mode every key of a queue must share a slot (BullMQ's scripts
 * touch several at once), and each queue gets a slot of its own so the queues spread over the masters: the hash
 * tag `{<prefix>:<queue>}`, so the keys read `{bull:auth_emails}:auth_emails:wait`. The prefix is inside the tag
 * because the four queue names alone hash into one third of the slots (one master of three); with it, `bull`'s
 * four queues fall on all three masters of an evenly split cluster. Nothing in the service touches two queues
 * in one command. Elsewhere the prefix is QUEUE_PREFIX as it is.
 */
export function queuePrefix(target: Pick<RedisTarget, 'mode' | 'prefix'>, queue: string): string {
  return target.mode === 'cluster' ? `{${target.prefix}:${queue}}` : target.prefix;
}

/** The masters of a Cluster, or the one server otherwise: what a check of the server's settings must ask. */
export function dataNodes(redis: RedisConnection): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/** Where Redis is, for a message: the mode and addresses, never a password. */
export function describeRedis(target: RedisTarget): string {
  const nodes = (list: readonly RedisNode[]) => list.map(({ host, port }) => `${host}:${port}`).join(',');
  if (target.mode === 'sentinel')
    return `master ${target.masterName} via sentinels ${nodes(target.sentinels)}`;
  if (target.mode === 'cluster') return `cluster ${nodes(target.nodes)}`;
  return target.url.replace(/\/\/[^@/]*@/, '//***@');
}

/** Resolves when the connection is ready, or rejects after `timeoutMs` without sending anything. */
export function waitUntilReady(redis: RedisConnection, timeoutMs: number): Promise<void> {
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

function clusterOptions(url: string, role: ConnectionRole): ClusterOptions {
  const { tls, username, password } = credentialsOf(url);
  // The cluster reconnects and queues as a whole: its own strategy and offline queue replace the nodes'.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { retryStrategy: _nodeRetry, enableOfflineQueue, ...perNode } = redisOptions(role);
  return {
    redisOptions: { ...perNode, username, password, ...(tls ? { tls } : {}) },
    clusterRetryStrategy: retryStrategy,
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableReadyCheck: true,
    // Managed clusters behind TLS announce their nodes by IP; keep the name the certificate was issued for.
    ...(tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
  };
}

/** What a redis:// or rediss:// URL says in every mode: the ACL user and password, the database, TLS. */
function credentialsOf(url: string): {
  username: string | undefined;
  password: string | undefined;
  db: number;
  tls: TlsOptions | undefined;
} {
  const parsed = new URL(url);
  return {
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: redisDatabase(url),
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
  };
}
