/**
 * A producer's configuration: the Redis variables only (REDIS_URL … REDIS_CLUSTER_NODES, QUEUE_PREFIX), so a
 * producer never has to configure SMTP or a database. The one place of this package that reads the environment;
 * the service's own src/config.ts reads the same variables through the schema and helpers exported here.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { encryptionKey, type PayloadEncryption } from './payload-crypto.js';

export type Env = Record<string, string | undefined>;

const TRUE = new Set(['1', 'true', 'yes', 'on']);
export const FALSE = new Set(['0', 'false', 'no', 'off', '']);

export const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

export const bool = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return fallback;
      const word = v.trim().toLowerCase();
      if (TRUE.has(word)) return true;
      if (FALSE.has(word)) return false;
      ctx.addIssue({ code: 'custom', message: `expected true or false, got "${v}"` });
      return z.NEVER;
    });

export const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

export const url = (protocols: readonly string[]) =>
  optionalText.refine(
    (v) => {
      if (v === undefined) return true;
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Where the queues live and how to reach them. `url` carries the credentials (an ACL user and its password), TLS
 * (`rediss://`) and the database number in every mode; in Sentinel and Cluster modes its host is not used.
 * Open connections with `createRedis` and name queues' keys with `queuePrefix` (connection.ts).
 */
export type RedisTarget = {
  url: string;
  /** QUEUE_PREFIX. In Cluster mode each queue's keys go under the hash tag `{<prefix>:<queue>}`. */
  prefix: string;
} & (
  | { mode: 'standalone' }
  | {
      mode: 'sentinel';
      sentinels: readonly RedisNode[];
      /** The master's name in the sentinels' configuration (REDIS_SENTINEL_NAME, `mymaster`). */
      masterName: string;
      sentinelUsername: string | undefined;
      sentinelPassword: string | undefined;
    }
  | { mode: 'cluster'; nodes: readonly RedisNode[] }
);

/** `host:port,host:port` (an IPv6 address in brackets: `[::1]:26379`). */
const redisNodes = optionalText.transform((v, ctx) => {
  if (v === undefined) return undefined;
  const nodes = v.split(',').map((entry) => parseHostPort(entry.trim()));
  if (nodes.some((node) => node === undefined)) {
    ctx.addIssue({ code: 'custom', message: `expected host:port pairs separated by commas, got "${v}"` });
    return z.NEVER;
  }
  return nodes as RedisNode[];
});

function parseHostPort(entry: string): RedisNode | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(entry);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65_535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/** The variables that say where the queues live, read by every kind of process. */
export const REDIS_ENV = {
  REDIS_URL: url(['redis:', 'rediss:']),
  REDIS_HOST: optionalText,
  REDIS_PORT: int(6379, 1, 65_535),
  REDIS_PASSWORD: optionalText,
  REDIS_DB: int(0, 0, 15),
  REDIS_USE_TLS: bool(false),
  QUEUE_PREFIX: optionalText
    .refine((v) => v === undefined || !/\s/.test(v), { message: 'expected no spaces' })
    .transform((v) => v ?? 'bull'),
  REDIS_SENTINELS: redisNodes,
  REDIS_SENTINEL_NAME: optionalText,
  REDIS_SENTINEL_USERNAME: optionalText,
  REDIS_SENTINEL_PASSWORD: optionalText,
  REDIS_CLUSTER_NODES: redisNodes,
};

/** `REDIS_ENV`'s names, for zod's `pick`. */
export const REDIS_VARIABLES = Object.fromEntries(Object.keys(REDIS_ENV).map((name) => [name, true])) as {
  [K in keyof typeof REDIS_ENV]: true;
};

/** Sensitive payload fields encrypted at rest (README, Encrypted OTP codes): read by producers and workers alike. */
export const ENCRYPTION_ENV = {
  PAYLOAD_ENCRYPTION_KEY: optionalText.refine(
    (v) => v === undefined || v.split(',').every((key) => encryptionKey(key) !== undefined),
    { message: 'expected 32-byte keys in base64 (openssl rand -base64 32), comma-separated' },
  ),
  ENCRYPTED_FIELDS: optionalText.refine(
    (v) => v === undefined || v.split(',').every((pair) => /^\s*\w+\s*=\s*\w+(\s*\+\s*\w+)*\s*$/.test(pair)),
    { message: 'expected task=field pairs, comma-separated (several fields: task=a+b)' },
  ),
};

/** The OTP code's field unless ENCRYPTED_FIELDS says otherwise. */
const DEFAULT_ENCRYPTED_FIELDS = 'send_otp_verification_email=otp';

export function payloadEncryption(e: {
  PAYLOAD_ENCRYPTION_KEY?: string | undefined;
  ENCRYPTED_FIELDS?: string | undefined;
}): PayloadEncryption {
  const keys = (e.PAYLOAD_ENCRYPTION_KEY ?? '')
    .split(',')
    .filter((key) => key.trim())
    .map((key) => encryptionKey(key)!);
  const fields = Object.fromEntries(
    (e.ENCRYPTED_FIELDS ?? DEFAULT_ENCRYPTED_FIELDS).split(',').map((pair) => {
      const [task = '', list = ''] = pair.split('=').map((part) => part.trim());
      return [task, list.split('+').map((field) => field.trim())];
    }),
  );
  return { keys, fields };
}

const encryptionSchema = z.object(ENCRYPTION_ENV);

/** PAYLOAD_ENCRYPTION_KEY and ENCRYPTED_FIELDS, for the client: no key, no encryption. */
export function loadEncryptionConfig(env: Env = readProcessEnv()): PayloadEncryption {
  const parsed = encryptionSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`));
  }
  return deepFreeze(payloadEncryption(parsed.data));
}

/** What a producer needs: only the Redis variables, so a producer never has to configure SMTP or a database. */
export interface ClientConfig {
  redis: RedisTarget;
}

const clientSchema = z.object(REDIS_ENV);

type RedisVariables = z.output<typeof clientSchema>;

export function loadClientConfig(env: Env = readProcessEnv()): ClientConfig {
  const parsed = clientSchema.safeParse(env);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`)),
    ...redisProblems(env, parsed.data),
  ];
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  return deepFreeze({ redis: redisTarget(parsed.data) });
}

export function redisTarget(e: RedisVariables): RedisTarget {
  const common = { url: e.REDIS_URL ?? redisUrlFromParts(e), prefix: e.QUEUE_PREFIX };
  if (e.REDIS_SENTINELS) {
    return {
      ...common,
      mode: 'sentinel',
      sentinels: e.REDIS_SENTINELS,
      masterName: e.REDIS_SENTINEL_NAME ?? 'mymaster',
      sentinelUsername: e.REDIS_SENTINEL_USERNAME,
      sentinelPassword: e.REDIS_SENTINEL_PASSWORD,
    };
  }
  if (e.REDIS_CLUSTER_NODES) return { ...common, mode: 'cluster', nodes: e.REDIS_CLUSTER_NODES };
  return { ...common, mode: 'standalone' };
}

/** Settings that contradict the Redis mode they are used in. */
export function redisProblems(env: Env, parsed: RedisVariables | undefined): string[] {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  const problems: string[] = [];
  if (set('REDIS_SENTINELS') && set('REDIS_CLUSTER_NODES')) {
    problems.push('REDIS_SENTINELS, REDIS_CLUSTER_NODES: set one or the other (Sentinel or Cluster mode)');
  }
  if (!set('REDIS_SENTINELS')) {
    // Set without the sentinels, they would be ignored and the service would talk to one server instead.
    const sentinelOnly = ['REDIS_SENTINEL_USERNAME', 'REDIS_SENTINEL_PASSWORD'].filter(set);
    if (set('REDIS_SENTINEL_NAME') && env.REDIS_SENTINEL_NAME?.trim() !== 'mymaster') {
      sentinelOnly.unshift('REDIS_SENTINEL_NAME');
    }
    for (const name of sentinelOnly) problems.push(`${name}: only used with REDIS_SENTINELS`);
  }
  if (parsed?.REDIS_CLUSTER_NODES) {
    if (/[{}]/.test(parsed.QUEUE_PREFIX)) {
      problems.push(
        'QUEUE_PREFIX: no { or } in Cluster mode (each queue gets a hash tag of its own, {<prefix>:<queue>})',
      );
    }
    const db = redisDatabase(parsed.REDIS_URL ?? redisUrlFromParts(parsed));
    if (db !== 0) {
      problems.push(
        `${parsed.REDIS_URL ? 'REDIS_URL' : 'REDIS_DB'}: Redis Cluster has only database 0, got ${db}`,
      );
    }
  }
  return problems;
}

/** The database number in a redis:// URL's path (0 when absent). */
export function redisDatabase(url: string): number {
  return Number(new URL(url).pathname.slice(1) || 0);
}

export function redisUrlFromParts(e: {
  REDIS_HOST?: string | undefined;
  REDIS_PORT: number;
  REDIS_PASSWORD?: string | undefined;
  REDIS_DB: number;
  REDIS_USE_TLS: boolean;
}): string {
  const auth = e.REDIS_PASSWORD ? `:${encodeURIComponent(e.REDIS_PASSWORD)}@` : '';
  return `${e.REDIS_USE_TLS ? 'rediss' : 'redis'}://${auth}${urlHost(e.REDIS_HOST ?? '127.0.0.1')}:${e.REDIS_PORT}/${e.REDIS_DB}`;
}

/** An IPv6 address goes in brackets inside a URL. */
export function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function readProcessEnv(): Env {
  const envFile = resolve(process.cwd(), '.env');
  // The real environment wins over .env, as with dotenv.
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  return process.env;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
