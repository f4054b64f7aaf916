/**
 * A Sentinel set of the test's own: a master and a replica that answer only to an ACL user, watched by three
 * sentinels (quorum 2) that have a password of their own and call a master down after one second; with `tls`,
 * every node answers over TLS only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisNode } from '../../src/config.js';
import {
  ACL_LINES,
  ask,
  ACL_PASSWORD,
  ACL_USER,
  nodeClient,
  spawnRedisNode,
  type RedisNodeProcess,
} from './redis-nodes.js';
import type { TlsFiles } from './tls-certificates.js';
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

export async function startSentinelSet({
  masterName = 'emails-master',
  sentinelCount = 3,
  tls,
}: { masterName?: string; sentinelCount?: number; tls?: TlsFiles } = {}): Promise<OwnSentinelSet> {
  const sentinelClient = (port: number) => nodeClient(port, { password: SENTINEL_PASSWORD, tls });
  const root = mkdtempSync(join(tmpdir(), 'email-workers-sentinel-'));
  const dataNodes: RedisNodeProcess[] = [];
  const sentinels: RedisNodeProcess[] = [];
  const stop = async () => {
    await Promise.all([...sentinels, ...dataNodes].map((node) => node.kill()));
    rmSync(root, { recursive: true, force: true });
  };
  const masterPort = () =>
    ask(sentinelClient(sentinels[0]!.port), async (sentinel) => {
      const [, port] = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as string[];
      return Number(port);
    });

  try {
    const master = await spawnRedisNode(root, ACL_LINES, { tls });
    dataNodes.push(master);
    dataNodes.push(
      await spawnRedisNode(
        root,
        [
          ...ACL_LINES,
          `replicaof 127.0.0.1 ${master.port}`,
          `masteruser ${ACL_USER}`,
          `masterauth ${ACL_PASSWORD}`,
        ],
        { tls },
      ),
    );
    for (let i = 0; i < sentinelCount; i++) {
      sentinels.push(
        await spawnRedisNode(
          root,
          [
            `sentinel monitor ${masterName} 127.0.0.1 ${master.port} ${Math.min(2, sentinelCount)}`,
            `sentinel auth-user ${masterName} ${ACL_USER}`,
            `sentinel auth-pass ${masterName} ${ACL_PASSWORD}`,
            `sentinel down-after-milliseconds ${masterName} 1000`,
            // A failover whose election split the votes is tried again after twice this: keep it short (a split
            // election retried after 6 s once took the test past its 15 s under a loaded full suite).
            `sentinel failover-timeout ${masterName} 2000`,
            `requirepass ${SENTINEL_PASSWORD}`,
            `sentinel sentinel-pass ${SENTINEL_PASSWORD}`,
          ],
          { sentinel: true, password: SENTINEL_PASSWORD, tls },
        ),
      );
    }
    // Ready when the replica is in sync and every sentinel knows the replica and the two other sentinels (a
    // failover needs a majority of them to agree).
    await waitFor(
      async () => {
        const replica = nodeClient(dataNodes[1]!.port, { username: ACL_USER, password: ACL_PASSWORD, tls });
        const inSync = await ask(replica, async (r) =>
          /master_link_status:up/.test(await r.info('replication')),
        );
        if (!inSync) return false;
        const views = await Promise.all(
          sentinels.map(({ port }) =>
            ask(sentinelClient(port), async (sentinel) => {
              const flat = (await sentinel.call('SENTINEL', 'MASTER', masterName)) as string[];
              const info = Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]])));
              return info['num-slaves'] === '1' && info['num-other-sentinels'] === String(sentinelCount - 1);
            }),
          ),
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
    url: `${tls ? 'rediss' : 'redis'}://${ACL_USER}:${ACL_PASSWORD}@127.0.0.1/0`,
    masterPort,
    async killMaster() {
      const port = await masterPort();
      await dataNodes.find((node) => node.port === port)!.kill();
      return port;
    },
    stop,
  };
}
