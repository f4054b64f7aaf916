/**
 * TLS and an ACL user in every mode: one server, a Sentinel set and a Cluster of the test's own that answer only
 * over TLS (certificates from a CA of the test's) and only to an ACL user. `start-workers wait` reaches each
 * through `rediss://user:password@…`, trusting the CA with NODE_EXTRA_CA_CERTS as a deployment with a private
 * CA does; it is a child process because Node reads that variable only when a process starts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';
import { startRedisCluster, type OwnCluster } from '../helpers/redis-cluster.js';
import {
  ACL_LINES,
  ACL_PASSWORD,
  ACL_USER,
  spawnRedisNode,
  type RedisNodeProcess,
} from '../helpers/redis-nodes.js';
import { SENTINEL_PASSWORD, startSentinelSet, type OwnSentinelSet } from '../helpers/redis-sentinel.js';
import { makeCertificates, type TlsFiles } from '../helpers/tls-certificates.js';

let dir: string;
let certificates: TlsFiles;
let server: RedisNodeProcess;
let sentinelSet: OwnSentinelSet;
let cluster: OwnCluster;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'email-workers-tls-'));
  certificates = makeCertificates(dir);
  [server, sentinelSet, cluster] = await Promise.all([
    spawnRedisNode(dir, ACL_LINES, { tls: certificates }),
    startSentinelSet({ sentinelCount: 1, tls: certificates }),
    startRedisCluster(3, { tls: certificates }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([server?.kill(), sentinelSet?.stop(), cluster?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const nodes = (list: ReadonlyArray<{ host: string; port: number }>) =>
  list.map(({ host, port }) => `${host}:${port}`).join(',');

async function wait(env: Record<string, string>, trustCa = true) {
  const cli = spawnCli(['wait', '--timeout', '3'], {
    ...env,
    EMBEDDED_DATABASE: 'false',
    ...(trustCa ? { NODE_EXTRA_CA_CERTS: certificates.caFile } : {}),
  });
  const code = await cli.exited;
  return { code, stderr: cli.stderr() };
}

describe('rediss:// with an ACL user', () => {
  it('reaches one server', async () => {
    const url = `rediss://${ACL_USER}:${ACL_PASSWORD}@127.0.0.1:${server.port}/0`;
    expect(await wait({ REDIS_URL: url })).toEqual({ code: 0, stderr: '' });
  });

  it('really is TLS: without the CA the certificate is refused', async () => {
    const url = `rediss://${ACL_USER}:${ACL_PASSWORD}@127.0.0.1:${server.port}/0`;
    const result = await wait({ REDIS_URL: url }, false);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/certificate/i);
  });

  it('and the ACL user is required: the default user is refused', async () => {
    const result = await wait({ REDIS_URL: `rediss://127.0.0.1:${server.port}/0` });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/NOAUTH|WRONGPASS|disabled/);
  });

  it('reaches the master through TLS sentinels', async () => {
    const result = await wait({
      REDIS_SENTINELS: nodes(sentinelSet.sentinels),
      REDIS_SENTINEL_NAME: sentinelSet.masterName,
      REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
      REDIS_URL: sentinelSet.url,
    });
    expect(result).toEqual({ code: 0, stderr: '' });
  });

  it('reaches a TLS Cluster', async () => {
    expect(await wait({ REDIS_CLUSTER_NODES: nodes(cluster.nodes), REDIS_URL: cluster.url })).toEqual({
      code: 0,
      stderr: '',
    });
  });
});
