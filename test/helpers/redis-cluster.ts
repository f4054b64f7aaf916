/**
 * A Redis Cluster of the test's own: three masters from redis-server (`cluster-enabled yes`), joined with
 * `redis-cli --cluster create`, answering only to an ACL user.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RedisNode } from '../../src/config.js';
import { closedPort } from './smtp-sink.js';
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

export interface OwnCluster {
  nodes: RedisNode[];
  /** What REDIS_URL says in Cluster mode: the ACL user and password (the host is not used). */
  url: string;
  /** The master port serving a key's slot. */
  masterOf(key: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startRedisCluster(masters = 3, { tls }: { tls?: TlsFiles } = {}): Promise<OwnCluster> {
  const client = (port: number) => nodeClient(port, { username: ACL_USER, password: ACL_PASSWORD, tls });
  const root = mkdtempSync(join(tmpdir(), 'email-workers-cluster-'));
  const processes: RedisNodeProcess[] = [];
  const stop = async () => {
    await Promise.all(processes.map((node) => node.kill()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      // The bus port is chosen too: port + 10000, Redis' default, can be past 65535 for an ephemeral port.
      const busPort = await closedPort();
      processes.push(
        await spawnRedisNode(
          root,
          [
            'cluster-enabled yes',
            'cluster-config-file nodes.conf',
            `cluster-port ${busPort}`,
            'cluster-node-timeout 2000',
            ...(tls ? ['tls-cluster yes'] : []),
            ...ACL_LINES,
          ],
          { tls },
        ),
      );
    }
    const addresses = processes.map((node) => `127.0.0.1:${node.port}`);
    await promisify(execFile)('redis-cli', [
      '--user',
      ACL_USER,
      '--pass',
      ACL_PASSWORD,
      '--no-auth-warning',
      ...(tls ? ['--tls', '--cacert', tls.caFile] : []),
      '--cluster',
      'create',
      ...addresses,
      '--cluster-yes',
    ]);
    await waitFor(
      async () => {
        const states = await Promise.all(
          processes.map(async (node) => {
            return ask(client(node.port), async (connection) =>
              /cluster_state:ok/.test(await connection.cluster('INFO')),
            );
          }),
        );
        return states.every(Boolean);
      },
      { what: 'cluster_state:ok on every node', timeoutMs: 20_000, intervalMs: 200 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes: processes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    url: `${tls ? 'rediss' : 'redis'}://${ACL_USER}:${ACL_PASSWORD}@127.0.0.1`,
    async masterOf(key) {
      return ask(client(processes[0]!.port), async (connection) => {
        const slot = await connection.cluster('KEYSLOT', key);
        const ranges = await connection.cluster('SLOTS');
        return ranges.find(([from, to]) => slot >= from && slot <= to)![2]![1];
      });
    },
    stop,
  };
}
