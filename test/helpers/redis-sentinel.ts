/**
 * A Sentinel set of the test's own: a master and a replica that answer only to an ACL user, watched by three
 * sentinels (quorum 2) that have a password of their own and call a master down after one second.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisNode } from '../../src/config.js';
import {
  ACL_LINES,
  ACL_PASSWORD,
  ACL_USER,
  nodeClient,
  spawnRedisNode,
  type RedisNodeProcess,
} from './redis-nodes.js';
import { waitFor } from './wait.js';

export const SENTINEL_PASSWORD = 'sentinel-secret';

export interface OwnSentinelSet {
  sentinels: RedisNode[];
  masterName: string;
  /** What REDIS_URL says in Sentinel mode: the master's ACL user and password (the host is not used). */
  url: string;
  /** The master's port, as the sentinels name it now. */
  masterPort(): Promise<number>;
  /** Kills the current master as in a crash (SIGKILL); returns its port. */
  killMaster(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSentinelSet(masterName = 'emails-master'): Promise<OwnSentinelSet> {
  const root = mkdtempSync(join(tmpdir(), 'email-workers-sentinel-'));
  const dataNodes: RedisNodeProcess[] = [];
  const sentinels: RedisNodeProcess[] = [];
  const stop = async () => {
    await Promise.all([...sentinels, ...dataNodes].map((node) => node.kill()));
    rmSync(root, { recursive: true, force: true });
  };
  const askSentinel = async <T>(question: (sentinel: ReturnType<typeof nodeClient>) => Promise<T>) => {
    const sentinel = nodeClient(sentinels[0]!.port, { password: SENTINEL_PASSWORD });
    try {
      return await question(sentinel);
    } finally {
      sentinel.disconnect();
    }
  };
  const masterPort = () =>
    askSentinel(async (sentinel) => {
      const [, port] = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as string[];
      return Number(port);
    });

  try {
    const master = await spawnRedisNode(root, ACL_LINES);
    dataNodes.push(master);
    dataNodes.push(
      await spawnRedisNode(root, [
        ...ACL_LINES,
        `replicaof 127.0.0.1 ${master.port}`,
        `masteruser ${ACL_USER}`,
        `masterauth ${ACL_PASSWORD}`,
      ]),
    );
    for (let i = 0; i < 3; i++) {
      sentinels.push(
        await spawnRedisNode(
          root,
          [
            `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
            `sentinel auth-user ${masterName} ${ACL_USER}`,
            `sentinel auth-pass ${masterName} ${ACL_PASSWORD}`,
            `sentinel down-after-milliseconds ${masterName} 1000`,
            `sentinel failover-timeout ${masterName} 10000`,
            `requirepass ${SENTINEL_PASSWORD}`,
            `sentinel sentinel-pass ${SENTINEL_PASSWORD}`,
          ],
          { sentinel: true, password: SENTINEL_PASSWORD },
        ),
      );
    }
    // Ready when the replica is in sync and every sentinel knows the replica and the two other sentinels (a
    // failover needs a majority of them to agree).
    await waitFor(
      async () => {
        const replica = nodeClient(dataNodes[1]!.port);
        try {
          if (!/master_link_status:up/.test(await replica.info('replication'))) return false;
        } finally {
          replica.disconnect();
        }
        const views = await Promise.all(
          sentinels.map(async ({ port }) => {
            const sentinel = nodeClient(port, { password: SENTINEL_PASSWORD });
            try {
              const flat = (await sentinel.call('SENTINEL', 'MASTER', masterName)) as string[];
              const info = Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]])));
              return info['num-slaves'] === '1' && info['num-other-sentinels'] === '2';
            } finally {
              sentinel.disconnect();
            }
          }),
        );
        return views.every(Boolean);
      },
      { what: 'the sentinels to know the replica and each other', timeoutMs: 30_000, intervalMs: 250 },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    sentinels: sentinels.map(({ port }) => ({ host: '127.0.0.1', port })),
    masterName,
    url: `redis://${ACL_USER}:${ACL_PASSWORD}@127.0.0.1/0`,
    masterPort,
    async killMaster() {
      const port = await masterPort();
      await dataNodes.find((node) => node.port === port)!.kill();
      return port;
    },
    stop,
  };
}
