/**
 * The one place that reads the environment. `loadConfig()` validates every variable once, reports one line per
 * problem, and returns a frozen {@link Config} that is passed down from there. Every variable is listed with its
 * default in `.env.example` (a test keeps the two in step).
 */
import { createPublicKey } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  REDIS_ENV,
  ENCRYPTION_ENV,
  FALSE,
  REDIS_VARIABLES,
  bool,
  deepFreeze,
  int,
  isLocale,
  isTimeZone,
  optionalText,
  payloadEncryption,
  readProcessEnv,
  redisProblems,
  redisTarget,
  redisUrlFromParts,
  url,
  urlHost,
  type Env,
  type PayloadEncryption,
  type RedisTarget,
} from '@email-workers/client/internal';
import { ConfigError } from './errors.js';

// The Redis variables and a producer's configuration belong to the client package; the workers read the same.
export {
  loadClientConfig,
  redisDatabase,
  type ClientConfig,
  type RedisNode,
  type RedisTarget,
} from '@email-workers/client/internal';

const PROJECT_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

const DURATION_UNITS_S: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };

/** `"90"` (seconds), `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"14d"` → seconds. */
export function parseDurationSeconds(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * DURATION_UNITS_S[match[2] ?? 's']!;
}

/** A duration in seconds; a bare number means seconds. */
const duration = (fallbackSeconds: number, minSeconds = 0) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallbackSeconds;
      const seconds = parseDurationSeconds(v);
      if (seconds === undefined || seconds < minSeconds) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration such as 30, 30s, 5m, 1h or 14d (at least ${minSeconds} s), got "${v}"`,
        });
        return z.NEVER;
      }
      return seconds;
    });

/** Comma-separated names (queues, streams, channels): no spaces inside a name, none empty. */
const nameList = (fallback: string | undefined) =>
  optionalText
    .refine((v) => v === undefined || v.split(',').every((name) => /^[^\s,]+$/.test(name.trim())), {
      message: 'expected comma-separated names without spaces',
    })
    .transform((v) => (v ?? fallback)?.split(',').map((name) => name.trim()) ?? []);

const email = optionalText.refine((v) => v === undefined || /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v), {
  message: 'expected an email address',
});

const identifier = (fallback: string | undefined) =>
  optionalText
    .refine((v) => v === undefined || /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(v), {
      message: 'expected an SQL identifier (letters, digits, _; optionally schema.name)',
    })
    .transform((v) => v ?? fallback);

/** A secret shared with another party: long enough not to be guessed. */
const secret = optionalText.refine((v) => v === undefined || v.length >= 16, {
  message: 'expected at least 16 characters',
});

/** Messages per second and the burst a full bucket allows. */
export interface SendRate {
  perSecond: number;
  burst: number;
}

/** `50` or `50/100` (per second / burst); the burst defaults to one second's worth. */
export function parseRate(text: string): SendRate | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(\d+)\s*)?$/.exec(text);
  const perSecond = Number(match?.[1]);
  if (!match || !(perSecond > 0)) return undefined;
  const burst = match[2] === undefined ? Math.max(1, Math.ceil(perSecond)) : Number(match[2]);
  return burst >= 1 ? { perSecond, burst } : undefined;
}

/** At most `max` emails of a task to one address per `windowS` seconds; `label` says it as configured. */
export interface RecipientLimit {
  max: number;
  windowS: number;
  label: string;
}

const DEFAULT_RECIPIENT_LIMITS = 'send_otp_verification_email=5/10m';

/** `task=N/window,…` (window a duration: 10m, 1h); `none` turns every limit off. */
export function parseRecipientLimits(text: string): Record<string, RecipientLimit> | undefined {
  if (text.trim().toLowerCase() === 'none') return {};
  const limits: Record<string, RecipientLimit> = {};
  for (const pair of text.split(',')) {
    const match = /^\s*(\w+)\s*=\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(pair);
    const windowS = match ? parseDurationSeconds(match[3]!) : undefined;
    if (!match || !windowS || windowS < 1 || Number(match[2]) < 1) return undefined;
    limits[match[1]!] = { max: Number(match[2]), windowS, label: `${match[2]} per ${match[3]}` };
  }
  return limits;
}

function isRegExp(text: string): boolean {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}

function isEcPublicKey(text: string): boolean {
  try {
    return createPublicKey(publicKeyInput(text)).asymmetricKeyType === 'ec';
  } catch {
    return false;
  }
}

/** SendGrid shows its key as base64 DER (SPKI); a PEM is taken as well. */
export function publicKeyInput(text: string): string | { key: Buffer; format: 'der'; type: 'spki' } {
  return text.includes('-----BEGIN')
    ? text.replace(/\\n/g, '\n')
    : { key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' };
}

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  // Where the queues live: REDIS_URL … REDIS_CLUSTER_NODES, read by the client package too.
  ...REDIS_ENV,

  WORKER_CONCURRENCY: int(10, 1, 1_000),
  WORKER_PROCESSES: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === 'auto' || /^([1-9]|[1-5][0-9]|6[0-4])$/.test(v), {
      message: 'expected auto or an integer from 1 to 64',
    }),
  WORKER_NAME: optionalText,
  JOB_TIMEOUT_MS: int(60_000, 1_000, 3_600_000),
  SHUTDOWN_TIMEOUT_MS: int(30_000, 0, 3_600_000),
  LOCK_DURATION_MS: int(10_000, 1_000, 600_000),
  STALLED_INTERVAL_MS: int(5_000, 500, 600_000),
  MAX_STALLED_COUNT: int(3, 0, 100),
  BREAKER_THRESHOLD: int(5, 1, 10_000),
  BREAKER_PROBE_INTERVAL: duration(5, 0.1),
  BREAKER_MAX_OUTAGE: duration(86_400, 1),
  CHAOS_CRASH_POINT: optionalText.refine(
    (v) => v === undefined || /^(before-send|before-data-end|after-250|after-sent-record)(@.+)?$/.test(v),
    {
      message:
        'expected before-send, before-data-end, after-250 or after-sent-record, optionally @<job id part>',
    },
  ),
  MAX_RETRIES: int(3, 0, 100),
  RETRY_DELAY: duration(2, 0),
  RETRY_DELAY_MAX: duration(600, 0),
  COMPLETED_JOB_RETENTION: duration(3600, 0),
  COMPLETED_JOB_RETENTION_COUNT: int(10_000, 0, 10_000_000),
  FAILED_JOB_RETENTION: duration(14 * 86_400, 0),
  EVENTS_MAX_LEN: int(10_000, 100, 10_000_000),

  DATABASE_URL: url(['postgres:', 'postgresql:']),
  DB_HOST: optionalText,
  DB_PORT: int(5432, 1, 65_535),
  DB_NAME: optionalText,
  DB_USER: optionalText,
  DB_PASSWORD: optionalText,
  DATABASE_POOL_SIZE: int(10, 1, 1_000),
  DATABASE_CONNECT_TIMEOUT_MS: int(5_000, 100, 600_000),
  USERS_TABLE: identifier('users'),
  USERS_EMAIL_COLUMN: identifier('email'),
  // Unset means is_active; set to empty to read every row regardless of an active flag.
  USERS_ACTIVE_COLUMN: z
    .string()
    .optional()
    .refine((v) => v === undefined || v.trim() === '' || /^[A-Za-z_][A-Za-z0-9_]*$/.test(v.trim()), {
      message: 'expected a column name, or empty to disable',
    })
    .transform((v) => (v === undefined ? 'is_active' : v.trim() || undefined)),
  USERS_NAME_COLUMN: identifier(undefined),
  LEDGER_ENABLED: bool(true),
  LEDGER_SCHEMA: optionalText
    .refine((v) => v === undefined || /^[A-Za-z_][A-Za-z0-9_]*$/.test(v), {
      message: 'expected a schema name',
    })
    .transform((v) => v ?? 'email_workers'),
  LEDGER_RETENTION_DAYS: int(90, 1, 36_500),
  MIGRATE_ON_START: bool(false),
  UNCERTAIN_DELIVERY: optionalText.refine(
    (v) =>
      v === undefined || v.split(',').every((pair) => /^\s*\w+\s*=\s*(resend|mark_unknown)\s*$/.test(pair)),
    { message: 'expected task=resend or task=mark_unknown pairs, comma-separated' },
  ),
  EMBEDDED_DATABASE: bool(true),
  EMBEDDED_DATABASE_DIR: optionalText,
  EMBEDDED_DATABASE_PORT: int(54329, 1, 65_535),

  SMTP_HOST: optionalText,
  SMTP_PORT: int(587, 1, 65_535),
  SMTP_USERNAME: optionalText,
  SMTP_PASSWORD: optionalText,
  SMTP_SECURE: bool(false),
  SMTP_REQUIRE_TLS: z.string().optional(),
  SMTP_USE_TLS: z.string().optional(),
  SMTP_TLS_REJECT_UNAUTHORIZED: bool(true),
  SMTP_POOL_SIZE: int(5, 1, 100),
  // A new connection costs a handshake (and often TLS and a greeting delay): recycle them rarely.
  SMTP_MAX_MESSAGES: int(1000, 1, 100_000),
  // A fallback relay (issue 12): critical tasks go through it while the primary's breaker is open.
  SMTP_FALLBACK_HOST: optionalText,
  SMTP_FALLBACK_PORT: int(587, 1, 65_535),
  SMTP_FALLBACK_USERNAME: optionalText,
  SMTP_FALLBACK_PASSWORD: optionalText,
  SMTP_FALLBACK_SECURE: bool(false),
  CRITICAL_TASKS: nameList('send_otp_verification_email,send_waitlist_notification'),
  FROM_ADDRESS: email,
  FROM_NAME: optionalText,
  REPLY_TO: email,
  DKIM_DOMAIN: optionalText,
  DKIM_SELECTOR: optionalText,
  DKIM_PRIVATE_KEY: optionalText,
  OUTBOX_DIR: optionalText,

  BRAND_COLOR: optionalText.refine((v) => v === undefined || /^#[0-9a-fA-F]{6}$/.test(v), {
    message: 'expected a colour like #4f46e5',
  }),
  LOGO_URL: url(['https:', 'http:']),
  SUPPORT_EMAIL: email,
  APP_URL: url(['https:', 'http:']),
  DEFAULT_LOCALE: optionalText.refine((v) => v === undefined || isLocale(v), {
    message: 'expected a BCP 47 locale such as en-US',
  }),
  DEFAULT_TIME_ZONE: optionalText.refine((v) => v === undefined || isTimeZone(v), {
    message: 'expected an IANA time zone such as Europe/Berlin',
  }),
  DEFAULT_CURRENCY: optionalText.refine((v) => v === undefined || /^[A-Za-z]{3}$/.test(v), {
    message: 'expected an ISO 4217 code such as USD',
  }),
  TEMPLATES_DIR: optionalText,

  // Health, metrics and the monitor (issue 9).
  HEALTH_PORT: z.string().optional(),
  WORKER_STATS_INTERVAL: duration(60, 0),
  MONITOR_PORT: int(5555, 1, 65_535),
  MONITOR_BASE_PATH: optionalText.refine((v) => v === undefined || /^(\/[\w.~-]+)+\/?$/.test(v), {
    message: 'expected a path such as /monitor',
  }),
  MONITOR_USER: optionalText,
  MONITOR_PASSWORD: optionalText,
  MONITOR_VIEWER_USER: optionalText,
  MONITOR_VIEWER_PASSWORD: optionalText,
  API_TOKEN: optionalText.refine((v) => v === undefined || v.length >= 16, {
    message: 'expected at least 16 characters',
  }),
  // The bridges (src/bridges/): Celery producers, Redis Streams and pub/sub feeding the same queues.
  CELERY_BROKER_URL: url(['redis:', 'rediss:', 'amqp:', 'amqps:', 'pyamqp:']),
  CELERY_QUEUES: nameList('email_notifications'),
  CELERY_RESULT_BACKEND: url(['redis:', 'rediss:']),
  CELERY_RESULT_EXPIRES: duration(3600, 1),
  INGEST_STREAMS: nameList(undefined),
  INGEST_CHANNELS: nameList(undefined),
  // Deliverability (issue 12): the relay's quota, per-recipient limits, bounces, suppression, unsubscribe.
  EMAIL_RATE_LIMIT: optionalText.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const rate = parseRate(v);
    if (!rate) {
      ctx.addIssue({
        code: 'custom',
        message: `expected messages per second, optionally /burst (50 or 50/100), got "${v}"`,
      });
      return z.NEVER;
    }
    return rate;
  }),
  RECIPIENT_LIMITS: optionalText.transform((v, ctx) => {
    const limits = parseRecipientLimits(v ?? DEFAULT_RECIPIENT_LIMITS);
    if (!limits) {
      ctx.addIssue({
        code: 'custom',
        message: `expected task=N/window pairs such as send_otp_verification_email=5/10m, or none, got "${v}"`,
      });
      return z.NEVER;
    }
    return limits;
  }),
  SUPPRESSION_DAYS: int(30, 1, 36_500),
  BOUNCE_WEBHOOK_SECRET: secret,
  SNS_TOPIC_ARNS: nameList(undefined),
  SNS_CERT_HOST_PATTERN: optionalText.refine((v) => v === undefined || isRegExp(v), {
    message: 'expected a regular expression',
  }),
  SENDGRID_WEBHOOK_PUBLIC_KEY: optionalText.refine((v) => v === undefined || isEcPublicKey(v), {
    message: 'expected the ECDSA public key SendGrid shows (base64) or a PEM',
  }),
  POSTMARK_WEBHOOK_USER: optionalText,
  POSTMARK_WEBHOOK_PASSWORD: optionalText,
  SUBSCRIBED_TASKS: nameList(undefined),
  UNSUBSCRIBE_SECRET: secret,
  PUBLIC_BASE_URL: url(['https:', 'http:']),
  // Dead letters and alerts (issue 12).
  DEAD_LETTER_RETENTION: duration(14 * 86_400, 60),
  DEAD_LETTER_RETENTION_COUNT: int(10_000, 1, 10_000_000),
  ALERT_WEBHOOK_URL: url(['https:', 'http:']),
  ALERT_BATCH_WINDOW_MS: int(60_000, 100, 3_600_000),
  // Encrypted OTP codes (issue 12): read by producers (the client) and workers alike.
  ...ENCRYPTION_ENV,
});

/** The variables the service reads; `.env.example` must list exactly these. */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape) as readonly string[];

export interface SmtpConfig {
  /** Unset outside production: a capture server on loopback writes messages to `outboxDir`. */
  host: string | undefined;
  port: number;
  /** Implicit TLS (port 465). */
  secure: boolean;
  /** Insist on STARTTLS. */
  requireTls: boolean;
  username: string | undefined;
  password: string | undefined;
  tlsRejectUnauthorized: boolean;
  poolSize: number;
  maxMessages: number;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
  dkim: { domainName: string; keySelector: string; privateKey: string } | undefined;
  outboxDir: string;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  logLevel: string;
  redis: RedisTarget;
  worker: {
    concurrency: number;
    /** Worker processes under one supervisor (WORKER_PROCESSES; `auto`: one per CPU). 1: the process itself. */
    processes: number;
    name: string;
    jobTimeoutMs: number;
    shutdownTimeoutMs: number;
    /** BullMQ's lockDuration: how soon a killed worker's jobs are known to be abandoned. */
    lockDurationMs: number;
    /** BullMQ's stalledInterval: how often abandoned jobs are looked for. */
    stalledIntervalMs: number;
    /** Crashes a job may cause before it fails (BullMQ's maxStalledCount). */
    maxStalledCount: number;
  };
  /** Per-dependency circuit breakers (SMTP, database, Redis). */
  breaker: { threshold: number; probeIntervalMs: number; maxOutageS: number };
  /** Test-only: the worker kills itself at this step (refused in production). */
  chaosCrashPoint: { point: CrashPoint; jobIdPart: string | undefined } | undefined;
  /** Defaults for every task; a task may override them. */
  retry: { attempts: number; delayMs: number; delayMaxMs: number };
  retention: { completedAgeS: number; completedCount: number; failedAgeS: number; eventsMaxLen: number };
  database: {
    url: string | undefined;
    poolSize: number;
    connectTimeoutMs: number;
    users: {
      table: string;
      emailColumn: string;
      activeColumn: string | undefined;
      nameColumn: string | undefined;
    };
    /** Outside production, with no database configured: a PostgreSQL of our own under `dir`. */
    embedded: { dir: string; port: number } | undefined;
  };
  ledger: {
    enabled: boolean;
    schema: string;
    retentionDays: number;
    migrateOnStart: boolean;
    /** Per task: what to do with a delivery found stuck in `sending` (task defaults apply to the rest). */
    uncertainDelivery: Readonly<Record<string, 'resend' | 'mark_unknown'>>;
  };
  smtp: SmtpConfig;
  /**
   * SMTP_FALLBACK_*: a second relay, with the primary's other settings (TLS, pool, timeouts, DKIM). While the
   * primary's breaker is open, `criticalTasks` go through it and the others wait for the primary.
   */
  smtpFallback: (SmtpConfig & { host: string }) | undefined;
  /** CRITICAL_TASKS: what may take the fallback relay (OTP and waitlist offers: they expire). */
  criticalTasks: readonly string[];
  mail: { fromAddress: string; fromName: string; replyTo: string | undefined };
  brand: { name: string; color: string; logoUrl: string | undefined; supportEmail: string; appUrl: string };
  /** What fills a payload's gaps: its locale, zone and currency, and the link of buttons without their own. */
  defaults: { locale: string; timeZone: string; currency: string; appUrl: string };
  templatesDir: string;
  /** Every worker process: `/health`, `/health/ready`, `/metrics`; port 0 disables. */
  health: { port: number; statsIntervalS: number };
  monitor: MonitorConfig;
  bridges: BridgesConfig;
  deliverability: DeliverabilityConfig;
  deadLetters: DeadLettersConfig;
  /** PAYLOAD_ENCRYPTION_KEY and ENCRYPTED_FIELDS: no keys, no encryption. */
  encryption: PayloadEncryption;
}

/** The `dead_letter` queue and its alerts (issue 12). */
export interface DeadLettersConfig {
  /** DEAD_LETTER_RETENTION: letters older than this are removed (14 days). */
  retentionS: number;
  /** DEAD_LETTER_RETENTION_COUNT: at most this many letters are kept, the oldest removed first (10,000). */
  retentionCount: number;
  /** ALERT_WEBHOOK_URL: where alerts are POSTed as Slack-compatible JSON; unset logs them only. */
  alertWebhookUrl: string | undefined;
  /** ALERT_BATCH_WINDOW_MS: letters within this long of the first unposted one go in one alert (60 s). */
  alertBatchWindowMs: number;
}

/** The relay's quota, per-recipient limits, bounces and suppression, List-Unsubscribe (issue 12). */
export interface DeliverabilityConfig {
  /** EMAIL_RATE_LIMIT: a total for the whole service (every queue and replica); undefined: no quota. */
  rateLimit: SendRate | undefined;
  /** RECIPIENT_LIMITS per task (default send_otp_verification_email=5/10m). */
  recipientLimits: Readonly<Record<string, RecipientLimit>>;
  /** SUPPRESSION_DAYS (30): how long a bounced or complaining address is not mailed. */
  suppressionDays: number;
  webhooks: {
    /** BOUNCE_WEBHOOK_SECRET: HMAC-SHA256 key of `POST /webhooks/bounces`; unset turns that endpoint off. */
    genericSecret: string | undefined;
    /** SNS_TOPIC_ARNS: the topics `POST /webhooks/ses` accepts; none turns it off. */
    snsTopicArns: readonly string[];
    /** SNS_CERT_HOST_PATTERN: hosts the SNS signing certificate may come from. */
    snsCertHost: RegExp;
    /** SENDGRID_WEBHOOK_PUBLIC_KEY: verifies `POST /webhooks/sendgrid`; unset turns it off. */
    sendgridPublicKey: string | undefined;
    /** POSTMARK_WEBHOOK_USER/PASSWORD: the basic auth of `POST /webhooks/postmark`; unset turns it off. */
    postmark: Credentials | undefined;
  };
  /** SUBSCRIBED_TASKS, UNSUBSCRIBE_SECRET, PUBLIC_BASE_URL: RFC 8058 one-click unsubscribe. */
  unsubscribe: { tasks: readonly string[]; secret: string; baseUrl: string } | undefined;
}

export interface Credentials {
  user: string;
  password: string;
}

/** `start-workers --monitor`: the board, the pages and the task API. */
export interface MonitorConfig {
  port: number;
  /** '' or a path such as `/monitor`, without a trailing slash. */
  basePath: string;
  /** Sees and does everything (MONITOR_USER/MONITOR_PASSWORD). */
  operator: Credentials | undefined;
  /** Sees everything, changes nothing (MONITOR_VIEWER_USER/MONITOR_VIEWER_PASSWORD). */
  viewer: Credentials | undefined;
  /** Bearer token of the task API. */
  apiToken: string | undefined;
}

/** What the bridges read (`start-workers celery-bridge`, `stream-bridge`, `--celery-bridge`). */
export interface BridgesConfig {
  celery: {
    /** CELERY_BROKER_URL: redis(s):// (kombu's Redis transport) or amqp(s):// (RabbitMQ); default REDIS_URL. */
    brokerUrl: string;
    /** CELERY_QUEUES: the Celery queues consumed (`email_notifications`). */
    queues: readonly string[];
    /** CELERY_RESULT_BACKEND: a redis(s):// URL to write results to, as Celery's Redis backend; unset writes none. */
    resultBackend: string | undefined;
    /** CELERY_RESULT_EXPIRES in seconds (3600). */
    resultExpiresS: number;
  };
  /** INGEST_STREAMS and INGEST_CHANNELS: Redis Streams and pub/sub channels read by `stream-bridge`. */
  ingest: { streams: readonly string[]; channels: readonly string[] };
}

/** The configuration a bridge-only process needs: no SMTP, database or templates. */
export type BridgeProcessConfig = Pick<Config, 'env' | 'logLevel' | 'redis' | 'bridges'>;

export type CrashPoint = 'before-send' | 'before-data-end' | 'after-250' | 'after-sent-record';

/**
 * Reads `.env` (when present, without overriding the real environment) and the environment, and returns the
 * validated, frozen configuration. Throws {@link ConfigError} listing every problem, one line per variable.
 */
export function loadConfig(env: Env = readProcessEnv()): Config {
  const parsed = envSchema.safeParse(env);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`)),
    ...crossProblems(env, parsed.data),
    ...redisProblems(env, parsed.data),
  ];
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  const requireTls = bool(false).parse(e.SMTP_REQUIRE_TLS ?? e.SMTP_USE_TLS);

  const databaseUrl = e.DATABASE_URL ?? databaseUrlFromParts(e);
  const fromAddress = e.FROM_ADDRESS ?? 'no-reply@localhost.localdomain';
  const fromName = e.FROM_NAME ?? 'Event Platform';
  const appUrl = (e.APP_URL ?? 'http://localhost:3000').replace(/\/+$/, '');
  // Each of nodemailer's timeouts stays below the job's, so a hung server fails a step, not the lock; an attempt
  // that still runs past the job's limit leaves its ledger row 'sending' (see process-job.ts).
  const socketTimeoutMs = Math.floor(e.JOB_TIMEOUT_MS / 2);
  const connectionTimeoutMs = Math.min(10_000, Math.floor(e.JOB_TIMEOUT_MS / 4));

  const redisUrl = e.REDIS_URL ?? redisUrlFromParts(e);
  const config: Config = {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    redis: redisTarget(e),
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      processes: workerProcesses(e.WORKER_PROCESSES),
      name: e.WORKER_NAME ?? `email-worker@${hostname()}`,
      jobTimeoutMs: e.JOB_TIMEOUT_MS,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
      lockDurationMs: e.LOCK_DURATION_MS,
      stalledIntervalMs: e.STALLED_INTERVAL_MS,
      maxStalledCount: e.MAX_STALLED_COUNT,
    },
    breaker: {
      threshold: e.BREAKER_THRESHOLD,
      probeIntervalMs: Math.round(e.BREAKER_PROBE_INTERVAL * 1000),
      maxOutageS: e.BREAKER_MAX_OUTAGE,
    },
    chaosCrashPoint: e.CHAOS_CRASH_POINT
      ? {
          point: e.CHAOS_CRASH_POINT.split('@')[0] as CrashPoint,
          jobIdPart: e.CHAOS_CRASH_POINT.includes('@')
            ? e.CHAOS_CRASH_POINT.slice(e.CHAOS_CRASH_POINT.indexOf('@') + 1)
            : undefined,
        }
      : undefined,
    retry: {
      attempts: e.MAX_RETRIES + 1,
      delayMs: Math.round(e.RETRY_DELAY * 1000),
      delayMaxMs: Math.round(e.RETRY_DELAY_MAX * 1000),
    },
    retention: {
      completedAgeS: Math.round(e.COMPLETED_JOB_RETENTION),
      completedCount: e.COMPLETED_JOB_RETENTION_COUNT,
      failedAgeS: Math.round(e.FAILED_JOB_RETENTION),
      eventsMaxLen: e.EVENTS_MAX_LEN,
    },
    database: {
      url: databaseUrl,
      poolSize: e.DATABASE_POOL_SIZE,
      connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
      users: {
        table: e.USERS_TABLE!,
        emailColumn: e.USERS_EMAIL_COLUMN!,
        activeColumn: e.USERS_ACTIVE_COLUMN,
        nameColumn: e.USERS_NAME_COLUMN,
      },
      embedded:
        databaseUrl || e.NODE_ENV === 'production' || !e.EMBEDDED_DATABASE
          ? undefined
          : {
              dir: resolve(PROJECT_ROOT, e.EMBEDDED_DATABASE_DIR ?? 'var/pgdata'),
              port: e.EMBEDDED_DATABASE_PORT,
            },
    },
    ledger: {
      enabled: e.LEDGER_ENABLED,
      schema: e.LEDGER_SCHEMA,
      retentionDays: e.LEDGER_RETENTION_DAYS,
      migrateOnStart: e.MIGRATE_ON_START,
      uncertainDelivery: Object.fromEntries(
        (e.UNCERTAIN_DELIVERY ?? '')
          .split(',')
          .filter((pair) => pair.includes('='))
          .map((pair) => pair.split('=').map((part) => part.trim()) as [string, 'resend' | 'mark_unknown']),
      ),
    },
    smtp: {
      host: e.SMTP_HOST,
      port: e.SMTP_PORT,
      secure: e.SMTP_SECURE,
      requireTls,
      username: e.SMTP_USERNAME,
      password: e.SMTP_PASSWORD,
      tlsRejectUnauthorized: e.SMTP_TLS_REJECT_UNAUTHORIZED,
      poolSize: e.SMTP_POOL_SIZE,
      maxMessages: e.SMTP_MAX_MESSAGES,
      connectionTimeoutMs,
      greetingTimeoutMs: connectionTimeoutMs,
      socketTimeoutMs,
      dkim:
        e.DKIM_DOMAIN && e.DKIM_SELECTOR && e.DKIM_PRIVATE_KEY
          ? {
              domainName: e.DKIM_DOMAIN,
              keySelector: e.DKIM_SELECTOR,
              // Keys in env files usually carry literal \n.
              privateKey: e.DKIM_PRIVATE_KEY.replace(/\\n/g, '\n'),
            }
          : undefined,
      outboxDir: resolve(PROJECT_ROOT, e.OUTBOX_DIR ?? 'var/outbox'),
    },
    smtpFallback: undefined,
    criticalTasks: e.CRITICAL_TASKS,
    mail: { fromAddress, fromName, replyTo: e.REPLY_TO },
    brand: {
      name: fromName,
      color: e.BRAND_COLOR ?? '#4f46e5',
      logoUrl: e.LOGO_URL,
      supportEmail: e.SUPPORT_EMAIL ?? fromAddress,
      appUrl,
    },
    defaults: {
      locale: e.DEFAULT_LOCALE ?? 'en-US',
      timeZone: e.DEFAULT_TIME_ZONE ?? 'UTC',
      currency: (e.DEFAULT_CURRENCY ?? 'USD').toUpperCase(),
      appUrl,
    },
    templatesDir: resolve(PROJECT_ROOT, e.TEMPLATES_DIR ?? 'templates'),
    health: {
      // Tests run many worker processes at once: under NODE_ENV=test the port is opt-in.
      port: healthPort(e.HEALTH_PORT, e.NODE_ENV === 'test' ? 0 : 8004),
      statsIntervalS: e.WORKER_STATS_INTERVAL,
    },
    monitor: {
      port: e.MONITOR_PORT,
      basePath: (e.MONITOR_BASE_PATH ?? '').replace(/\/+$/, ''),
      operator: credentials(e.MONITOR_USER, e.MONITOR_PASSWORD),
      viewer: credentials(e.MONITOR_VIEWER_USER, e.MONITOR_VIEWER_PASSWORD),
      apiToken: e.API_TOKEN,
    },
    bridges: bridgesConfig(e, redisUrl),
    deliverability: {
      rateLimit: e.EMAIL_RATE_LIMIT,
      recipientLimits: e.RECIPIENT_LIMITS,
      suppressionDays: e.SUPPRESSION_DAYS,
      webhooks: {
        genericSecret: e.BOUNCE_WEBHOOK_SECRET,
        snsTopicArns: e.SNS_TOPIC_ARNS,
        snsCertHost: new RegExp(e.SNS_CERT_HOST_PATTERN ?? DEFAULT_SNS_CERT_HOST),
        sendgridPublicKey: e.SENDGRID_WEBHOOK_PUBLIC_KEY,
        postmark: credentials(e.POSTMARK_WEBHOOK_USER, e.POSTMARK_WEBHOOK_PASSWORD),
      },
      unsubscribe:
        e.SUBSCRIBED_TASKS.length && e.UNSUBSCRIBE_SECRET && e.PUBLIC_BASE_URL
          ? {
              tasks: e.SUBSCRIBED_TASKS,
              secret: e.UNSUBSCRIBE_SECRET,
              baseUrl: e.PUBLIC_BASE_URL.replace(/\/+$/, ''),
            }
          : undefined,
    },
    deadLetters: {
      retentionS: Math.round(e.DEAD_LETTER_RETENTION),
      retentionCount: e.DEAD_LETTER_RETENTION_COUNT,
      alertWebhookUrl: e.ALERT_WEBHOOK_URL,
      alertBatchWindowMs: e.ALERT_BATCH_WINDOW_MS,
    },
    encryption: payloadEncryption(e),
  };
  if (e.SMTP_FALLBACK_HOST) {
    config.smtpFallback = {
      ...config.smtp,
      host: e.SMTP_FALLBACK_HOST,
      port: e.SMTP_FALLBACK_PORT,
      secure: e.SMTP_FALLBACK_SECURE,
      username: e.SMTP_FALLBACK_USERNAME,
      password: e.SMTP_FALLBACK_PASSWORD,
    };
  }
  return deepFreeze(config);
}

// Amazon's own SNS endpoints: a certificate from anywhere else could be anyone's.
const DEFAULT_SNS_CERT_HOST = '^sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?$';

function bridgesConfig(e: z.output<typeof bridgeSchema>, redisUrl: string): BridgesConfig {
  const brokerUrl = e.CELERY_BROKER_URL ?? redisUrl;
  return {
    celery: {
      // kombu's name for the same transport.
      brokerUrl: brokerUrl.replace(/^pyamqp:/, 'amqp:'),
      queues: e.CELERY_QUEUES,
      resultBackend: e.CELERY_RESULT_BACKEND,
      resultExpiresS: Math.round(e.CELERY_RESULT_EXPIRES),
    },
    ingest: { streams: e.INGEST_STREAMS, channels: e.INGEST_CHANNELS },
  };
}

const bridgeSchema = envSchema.pick({
  NODE_ENV: true,
  LOG_LEVEL: true,
  ...REDIS_VARIABLES,
  CELERY_BROKER_URL: true,
  CELERY_QUEUES: true,
  CELERY_RESULT_BACKEND: true,
  CELERY_RESULT_EXPIRES: true,
  INGEST_STREAMS: true,
  INGEST_CHANNELS: true,
});

/**
 * For a process that runs only a bridge: the Redis, bridge and logging variables, validated like loadConfig's,
 * without production's demands on SMTP and the database (a bridge sends nothing).
 */
export function loadBridgeConfig(env: Env = readProcessEnv()): BridgeProcessConfig {
  const parsed = bridgeSchema.safeParse(env);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`)),
    ...redisProblems(env, parsed.data),
  ];
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  const redis = redisTarget(e);
  return deepFreeze({
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    redis,
    bridges: bridgesConfig(e, redis.url),
  });
}

/**
 * Problems that involve more than one variable, read from the raw environment so that they are reported
 * together with any single bad value, not one restart later.
 */
function crossProblems(env: Env, parsed: z.output<typeof envSchema> | undefined): string[] {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  const production = env.NODE_ENV === 'production';
  const problems: string[] = [];
  const tlsVariable = env.SMTP_REQUIRE_TLS !== undefined ? 'SMTP_REQUIRE_TLS' : 'SMTP_USE_TLS';
  if (!bool(false).safeParse(env[tlsVariable]).success)
    problems.push(`${tlsVariable}: expected true or false`);
  if (production && !set('SMTP_HOST')) {
    problems.push('SMTP_HOST: required in production (outside production a local capture server is used)');
  }
  if (production && !set('FROM_ADDRESS')) problems.push('FROM_ADDRESS: required in production');
  const dkimSet = ['DKIM_DOMAIN', 'DKIM_SELECTOR', 'DKIM_PRIVATE_KEY'].filter(set).length;
  if (dkimSet !== 0 && dkimSet !== 3) {
    problems.push('DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY: set all three or none');
  }
  if (set('SMTP_FALLBACK_USERNAME') && !set('SMTP_FALLBACK_PASSWORD')) {
    problems.push('SMTP_FALLBACK_PASSWORD: required when SMTP_FALLBACK_USERNAME is set');
  }
  if (set('SMTP_FALLBACK_HOST') && !set('SMTP_HOST')) {
    problems.push('SMTP_FALLBACK_HOST: needs SMTP_HOST (a fallback for the primary relay)');
  }
  if (set('SMTP_USERNAME') && !set('SMTP_PASSWORD')) {
    problems.push('SMTP_PASSWORD: required when SMTP_USERNAME is set');
  }
  const ledgerOff = FALSE.has((env.LEDGER_ENABLED ?? 'true').trim().toLowerCase());
  if (production && !set('DATABASE_URL') && !set('DB_HOST') && !ledgerOff) {
    problems.push('DATABASE_URL: required in production (the delivery ledger lives there)');
  }
  if (set('DB_HOST') && !set('DB_NAME') && !set('DATABASE_URL')) {
    problems.push('DB_NAME: required when DB_HOST is set');
  }
  for (const [user, password] of [
    ['MONITOR_USER', 'MONITOR_PASSWORD'],
    ['MONITOR_VIEWER_USER', 'MONITOR_VIEWER_PASSWORD'],
  ] as const) {
    if (set(user) !== set(password))
      problems.push(`${set(user) ? password : user}: required with ${set(user) ? user : password}`);
  }
  if (set('MONITOR_VIEWER_USER') && !set('MONITOR_USER')) {
    problems.push('MONITOR_USER: required when MONITOR_VIEWER_USER is set (a viewer needs an operator)');
  }
  if (set('MONITOR_VIEWER_USER') && env.MONITOR_VIEWER_USER?.trim() === env.MONITOR_USER?.trim()) {
    problems.push('MONITOR_VIEWER_USER: must differ from MONITOR_USER');
  }
  if (env.HEALTH_PORT !== undefined && healthPort(env.HEALTH_PORT, 0) < 0) {
    problems.push(`HEALTH_PORT: expected an integer from 0 (off) to 65535, got "${env.HEALTH_PORT}"`);
  }
  if (production && set('CHAOS_CRASH_POINT')) {
    problems.push('CHAOS_CRASH_POINT: a test-only crash hook, refused in production');
  }
  if (parsed && parsed.RETRY_DELAY_MAX < parsed.RETRY_DELAY) {
    problems.push('RETRY_DELAY_MAX: must not be below RETRY_DELAY');
  }
  if (set('SUBSCRIBED_TASKS')) {
    for (const name of ['UNSUBSCRIBE_SECRET', 'PUBLIC_BASE_URL'])
      if (!set(name)) problems.push(`${name}: required when SUBSCRIBED_TASKS is set`);
  }
  if (set('POSTMARK_WEBHOOK_USER') !== set('POSTMARK_WEBHOOK_PASSWORD')) {
    problems.push('POSTMARK_WEBHOOK_USER, POSTMARK_WEBHOOK_PASSWORD: set both or neither');
  }
  return problems;
}

/** `auto`: one per CPU the process may use. */
export function workerProcesses(text: string | undefined): number {
  if (text === undefined) return 1;
  return text === 'auto' ? availableParallelism() : Number(text);
}

/** -1 for a bad value (reported by crossProblems). */
function healthPort(text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === '') return fallback;
  const port = /^\s*\d+\s*$/.test(text) ? Number(text) : -1;
  return port <= 65_535 ? port : -1;
}

function credentials(user: string | undefined, password: string | undefined): Credentials | undefined {
  return user && password ? { user, password } : undefined;
}

function databaseUrlFromParts(e: {
  DB_HOST?: string | undefined;
  DB_PORT: number;
  DB_NAME?: string | undefined;
  DB_USER?: string | undefined;
  DB_PASSWORD?: string | undefined;
}): string | undefined {
  if (!e.DB_HOST || !e.DB_NAME) return undefined;
  const user = e.DB_USER ? encodeURIComponent(e.DB_USER) : '';
  const password = e.DB_PASSWORD ? `:${encodeURIComponent(e.DB_PASSWORD)}` : '';
  const auth = user ? `${user}${password}@` : '';
  return `postgres://${auth}${urlHost(e.DB_HOST)}:${e.DB_PORT}/${encodeURIComponent(e.DB_NAME)}`;
}
