/**
 * redis-server processes of a test's own on spare loopback ports, each from a config file in a folder of its
 * own: the nodes of a Cluster or of a Sentinel set. The shared Redis on 6379 is never touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { closedPort } from './smtp-sink.js';
import type { TlsFiles } from './tls-certificates.js';
import { waitFor } from './wait.js';

/** The ACL user the data nodes are given (the default user is switched off), as a deployment would have. */
export const ACL_USER = 'emails';
export const ACL_PASSWORD = 'emails-secret';

/** Config lines that make a data node answer only to ACL_USER. */
export const ACL_LINES = ['user default off', `user ${ACL_USER} on >${ACL_PASSWORD} ~* &* +@all`];

export interface RedisNodeProcess {
  port: number;
  /** SIGKILL: the node dies as in a crash, with nothing flushed. */
  kill(): Promise<void>;
}

export interface NodeOptions {
  /** Run as a sentinel (`redis-server --sentinel`). */
  sentinel?: boolean;
  /** What the readiness probe authenticates with: ACL_USER on data nodes, the password alone on sentinels. */
  username?: string | undefined;
  password?: string | undefined;
  /** Answer over TLS only, with these files (clients are not asked for a certificate). */
  tls?: TlsFiles | undefined;
}

export async function spawnRedisNode(
  root: string,
  lines: readonly string[],
  {
    sentinel = false,
    username = sentinel ? undefined : ACL_USER,
    password = ACL_PASSWORD,
    tls,
  }: NodeOptions = {},
): Promise<RedisNodeProcess> {
  const port = await closedPort();
  const dir = join(root, String(port));
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, sentinel ? 'sentinel.conf' : 'redis.conf');
  writeFileSync(
    conf,
    [
      ...(tls
        ? [
            'port 0',
            `tls-port ${port}`,
            `tls-cert-file ${tls.certFile}`,
            `tls-key-file ${tls.keyFile}`,
            `tls-ca-cert-file ${tls.caFile}`,
            'tls-auth-clients no',
            // Replicas and sentinels reach the master over TLS too.
            'tls-replication yes',
          ]
        : [`port ${port}`]),
      'bind 127.0.0.1',
      `dir ${dir}`,
      `logfile ${join(dir, 'redis.log')}`,
      // Nothing persisted: a node that dies loses what it had not replicated, as after a crash.
      ...(sentinel ? [] : ['save ""', 'appendonly no']),
      ...lines,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('redis-server', sentinel ? [conf, '--sentinel'] : [conf], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited (${child.exitCode})`);
      return answersPing({
        port,
        host: '127.0.0.1',
        username,
        password,
        ...(tls ? { tls: { ca: tls.ca } } : {}),
      });
    },
    { what: `redis-server on port ${port}` },
  ).catch(async (error: unknown) => {
    await kill();
    throw error;
  });
  return { port, kill };
}

/** A connection to one node of the test's own: a data node as ACL_USER, a sentinel with its password alone. */
export function nodeClient(
  port: number,
  {
    username,
    password,
    tls,
  }: { username?: string; password: string; tls?: TlsFiles | undefined } = DATA_NODE_AUTH,
): Redis {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    username,
    password,
    ...(tls ? { tls: { ca: tls.ca } } : {}),
    maxRetriesPerRequest: 1,
  });
  client.on('error', () => undefined);
  return client;
}

const DATA_NODE_AUTH = { username: ACL_USER, password: ACL_PASSWORD };

/** Runs `question` on `client`, then closes it whatever happened. */
export async function ask<T>(client: Redis, question: (client: Redis) => Promise<T>): Promise<T> {
  try {
    return await question(client);
  } finally {
    client.disconnect();
  }
}

/** True when the Redis at `target` (a URL or options) answers PING now; one try, no reconnecting. */
export async function answersPing(target: string | RedisOptions): Promise<boolean> {
  const once: RedisOptions = { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 };
  const probe = typeof target === 'string' ? new Redis(target, once) : new Redis({ ...target, ...once });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}
