import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClientConfig, loadConfig } from '../../src/config.js';
import type { ConfigError } from '../../src/errors.js';
import { queuePrefix } from '../../src/queues/connection.js';
import { QUEUE_NAMES } from '../../src/tasks/define-task.js';
import { PROJECT_ROOT } from '../helpers/import-graph.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    return (error as ConfigError).problems;
  }
};

describe('the Redis mode', () => {
  it('is one server by default', () => {
    expect(loadConfig({}).redis).toEqual({
      mode: 'standalone',
      url: 'redis://127.0.0.1:6379/0',
      prefix: 'bull',
    });
  });

  it('is Sentinel with REDIS_SENTINELS, credentials and TLS taken from REDIS_URL', () => {
    const redis = loadConfig({
      REDIS_SENTINELS: 's1.internal:26379, 10.0.0.2:26380,[::1]:26381',
      REDIS_SENTINEL_NAME: 'emails',
      REDIS_SENTINEL_PASSWORD: 'sentinel secret',
      REDIS_URL: 'rediss://app:s3cret@unused/2',
    }).redis;
    expect(redis).toEqual({
      mode: 'sentinel',
      url: 'rediss://app:s3cret@unused/2',
      prefix: 'bull',
      sentinels: [
        { host: 's1.internal', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      masterName: 'emails',
      sentinelUsername: undefined,
      sentinelPassword: 'sentinel secret',
    });
  });

  it('names the master mymaster unless told otherwise', () => {
    const redis = loadConfig({ REDIS_SENTINELS: '127.0.0.1:26379' }).redis;
    expect(redis.mode === 'sentinel' && redis.masterName).toBe('mymaster');
  });

  it('is Cluster with REDIS_CLUSTER_NODES', () => {
    const redis = loadConfig({ REDIS_CLUSTER_NODES: 'a:7000,b:7001', REDIS_URL: 'rediss://app:pw@x' }).redis;
    expect(redis).toEqual({
      mode: 'cluster',
      url: 'rediss://app:pw@x',
      prefix: 'bull',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
    });
  });

  it('is the same for the producer client as for the workers', () => {
    const env = { REDIS_CLUSTER_NODES: 'a:7000', QUEUE_PREFIX: 'emails' };
    expect(loadClientConfig(env).redis).toEqual(loadConfig(env).redis);
  });

  it('refuses a node list that is not host:port pairs, naming the variable', () => {
    expect(problemsOf({ REDIS_SENTINELS: 'a:26379,b' })).toEqual([
      expect.stringMatching(/^REDIS_SENTINELS: /),
    ]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'a:99999' })).toEqual([
      expect.stringMatching(/^REDIS_CLUSTER_NODES: /),
    ]);
  });

  it('refuses Sentinel and Cluster at once', () => {
    expect(problemsOf({ REDIS_SENTINELS: 'a:1', REDIS_CLUSTER_NODES: 'b:2' })).toEqual([
      expect.stringMatching(/^REDIS_SENTINELS, REDIS_CLUSTER_NODES: set one or the other/),
    ]);
  });

  it('refuses sentinel settings without sentinels, which would otherwise be ignored', () => {
    expect(problemsOf({ REDIS_SENTINEL_PASSWORD: 'x', REDIS_SENTINEL_NAME: 'emails' })).toEqual([
      'REDIS_SENTINEL_NAME: only used with REDIS_SENTINELS',
      'REDIS_SENTINEL_PASSWORD: only used with REDIS_SENTINELS',
    ]);
  });

  it('refuses a database other than 0 and braces in the prefix in Cluster mode', () => {
    expect(
      problemsOf({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_URL: 'redis://x/3', QUEUE_PREFIX: '{bull}' }),
    ).toEqual([
      expect.stringMatching(/^QUEUE_PREFIX: no \{ or \} in Cluster mode/),
      'REDIS_URL: Redis Cluster has only database 0, got 3',
    ]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_DB: '1' })).toEqual([
      'REDIS_DB: Redis Cluster has only database 0, got 1',
    ]);
  });

  it('reports problems to the producer client too', () => {
    expect(() => loadClientConfig({ REDIS_SENTINELS: 'a:1', REDIS_CLUSTER_NODES: 'b:2' })).toThrow(
      /set one or the other/,
    );
  });
});

describe('queuePrefix', () => {
  it('is QUEUE_PREFIX itself on one server and with Sentinel', () => {
    expect(queuePrefix({ mode: 'standalone', prefix: 'bull' }, 'auth_emails')).toBe('bull');
    expect(queuePrefix({ mode: 'sentinel', prefix: 'bull' }, 'auth_emails')).toBe('bull');
  });

  it('puts each queue under a hash tag of its own in Cluster mode', () => {
    const prefixes = QUEUE_NAMES.map((queue) => queuePrefix({ mode: 'cluster', prefix: 'bull' }, queue));
    expect(prefixes).toEqual(QUEUE_NAMES.map((queue) => `{bull:${queue}}`));
  });

  it('is the only way src/ names a queue prefix, so no module forgets the Cluster hash tag', () => {
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory()
          ? sources(join(dir, entry.name))
          : entry.name.endsWith('.ts')
            ? [join(dir, entry.name)]
            : [],
      );
    const offenders = sources(join(PROJECT_ROOT, 'src')).filter((file) =>
      /\bprefix:\s*[\w.]*\.prefix\b/.test(readFileSync(file, 'utf8')),
    );
    expect(offenders.map((file) => relative(PROJECT_ROOT, file))).toEqual([]);
  });
});
