import { describe, it, expect } from 'vitest';
import { loadBridgeConfig, loadClientConfig, loadConfig, parseDurationSeconds } from '../../src/config.js';
import { loadEncryptionConfig } from '@email-workers/client/internal';
import { ConfigError } from '../../src/errors.js';

type Env = Record<string, string | undefined>;

/** The problems loadConfig reports for `env`; fails the test when it accepts `env`. */
function problemsOf(env: Env): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('loadConfig accepted the environment');
}

const production = {
  NODE_ENV: 'production',
  SMTP_HOST: 'smtp.example.com',
  FROM_ADDRESS: 'no-reply@example.com',
  DATABASE_URL: 'postgres://app@db.example.com:5432/events',
};

describe('loadConfig defaults', () => {
  const config = loadConfig({});

  it('connects to redis://127.0.0.1:6379/0 when no Redis variable is set', () => {
    expect(config.redis.url).toBe('redis://127.0.0.1:6379/0');
  });

  it('uses the queue prefix bull', () => {
    expect(config.redis.prefix).toBe('bull');
  });

  it('runs 10 jobs at once', () => {
    expect(config.worker.concurrency).toBe(10);
  });

  it('makes 4 attempts: the first and MAX_RETRIES 3', () => {
    expect(config.retry.attempts).toBe(4);
  });

  it('waits 2000 ms before the first retry', () => {
    expect(config.retry.delayMs).toBe(2_000);
  });

  it('waits at most 600 s between retries', () => {
    expect(config.retry.delayMaxMs).toBe(600_000);
  });

  it('keeps completed jobs for 1 hour', () => {
    expect(config.retention.completedAgeS).toBe(3_600);
  });

  it('keeps failed jobs for 14 days', () => {
    expect(config.retention.failedAgeS).toBe(14 * 86_400);
  });

  it('formats amounts in USD', () => {
    expect(config.defaults.currency).toBe('USD');
  });

  it('runs as development when NODE_ENV is unset', () => {
    expect(config.env).toBe('development');
  });
});

describe('durations', () => {
  it.each([
    ['1h', 3_600],
    ['14d', 1_209_600],
    ['500ms', 0.5],
    ['5m', 300],
    ['30s', 30],
    ['90', 90],
  ])('reads %s as %d seconds', (text, seconds) => {
    expect(parseDurationSeconds(text)).toBe(seconds);
  });

  it('reads a bare number as seconds', () => {
    expect(loadConfig({ RETRY_DELAY: '90' }).retry.delayMs).toBe(90_000);
  });

  it('reads milliseconds', () => {
    expect(loadConfig({ RETRY_DELAY: '500ms' }).retry.delayMs).toBe(500);
  });

  it('reads hours and days into the retention settings', () => {
    const config = loadConfig({ COMPLETED_JOB_RETENTION: '2h', FAILED_JOB_RETENTION: '7d' });
    expect(config.retention).toMatchObject({ completedAgeS: 7_200, failedAgeS: 604_800 });
  });

  it('refuses a duration in an unknown unit, naming the variable', () => {
    expect(problemsOf({ FAILED_JOB_RETENTION: '2w' })).toEqual([
      expect.stringMatching(/^FAILED_JOB_RETENTION: /),
    ]);
  });
});

describe('the old Celery service variables', () => {
  it('build a rediss:// URL from REDIS_HOST, REDIS_PORT, REDIS_PASSWORD and REDIS_USE_TLS', () => {
    const config = loadConfig({
      REDIS_HOST: 'cache.internal',
      REDIS_PORT: '6380',
      REDIS_PASSWORD: 'secret',
      REDIS_USE_TLS: 'true',
    });
    expect(config.redis.url).toBe('rediss://:secret@cache.internal:6380/0');
  });

  it('URL-encode the Redis password', () => {
    const config = loadConfig({ REDIS_HOST: 'cache.internal', REDIS_PASSWORD: 'p@ss:w/rd#1' });
    expect(config.redis.url).toBe('redis://:p%40ss%3Aw%2Frd%231@cache.internal:6379/0');
  });

  it('lose to REDIS_URL', () => {
    const config = loadConfig({ REDIS_URL: 'redis://queue.internal:6379/2', REDIS_HOST: 'cache.internal' });
    expect(config.redis.url).toBe('redis://queue.internal:6379/2');
  });

  it('build a postgres URL from DB_HOST, DB_PORT, DB_NAME, DB_USER and DB_PASSWORD', () => {
    const config = loadConfig({
      DB_HOST: 'db.internal',
      DB_PORT: '5433',
      DB_NAME: 'events',
      DB_USER: 'app',
      DB_PASSWORD: 's3cr@t/1',
    });
    expect(config.database.url).toBe('postgres://app:s3cr%40t%2F1@db.internal:5433/events');
  });

  it('lose to DATABASE_URL', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://reader@replica.internal:5432/events',
      DB_HOST: 'db.internal',
      DB_NAME: 'other',
    });
    expect(config.database.url).toBe('postgres://reader@replica.internal:5432/events');
  });

  it('leave the database unconfigured when neither DATABASE_URL nor DB_HOST is set', () => {
    expect(loadConfig({}).database.url).toBeUndefined();
  });

  it('read SMTP_USE_TLS=true as requiring STARTTLS', () => {
    expect(loadConfig({ SMTP_USE_TLS: 'true' }).smtp.requireTls).toBe(true);
  });

  it('let SMTP_REQUIRE_TLS win over SMTP_USE_TLS', () => {
    expect(loadConfig({ SMTP_REQUIRE_TLS: 'false', SMTP_USE_TLS: 'true' }).smtp.requireTls).toBe(false);
  });
});

describe('invalid configuration', () => {
  it('reports one line per bad variable, each starting with its name', () => {
    const problems = problemsOf({ REDIS_PORT: 'abc', WORKER_CONCURRENCY: '0', RETRY_DELAY: 'soon' });
    expect(problems).toHaveLength(3);
    expect(problems.map((line) => line.split(':')[0]).sort()).toEqual([
      'REDIS_PORT',
      'RETRY_DELAY',
      'WORKER_CONCURRENCY',
    ]);
  });

  it('reports a bad value together with the variables production requires', () => {
    const problems = problemsOf({
      NODE_ENV: 'production',
      FROM_ADDRESS: 'no-reply@example.com',
      DATABASE_URL: 'postgres://app@db.example.com:5432/events',
      REDIS_PORT: 'x',
    });
    expect(problems.map((line) => line.split(':')[0]).sort()).toEqual(['REDIS_PORT', 'SMTP_HOST']);
  });

  it('fails in production without SMTP_HOST, naming SMTP_HOST', () => {
    const problems = problemsOf({ ...production, SMTP_HOST: undefined });
    expect(problems).toEqual([expect.stringMatching(/^SMTP_HOST: /)]);
  });

  it('accepts production with SMTP_HOST, FROM_ADDRESS and DATABASE_URL', () => {
    expect(loadConfig(production).smtp.host).toBe('smtp.example.com');
  });

  it('fails in production without a database, naming DATABASE_URL, unless the ledger is off', () => {
    expect(problemsOf({ ...production, DATABASE_URL: undefined })).toEqual([
      expect.stringMatching(/^DATABASE_URL: /),
    ]);
    expect(
      loadConfig({ ...production, DATABASE_URL: undefined, LEDGER_ENABLED: 'false' }).database.url,
    ).toBeUndefined();
  });

  it('never uses the embedded database in production or when a database is configured', () => {
    expect(loadConfig({}).database.embedded).toMatchObject({ port: 54329 });
    expect(loadConfig({ EMBEDDED_DATABASE: 'false' }).database.embedded).toBeUndefined();
    expect(loadConfig(production).database.embedded).toBeUndefined();
    expect(loadConfig({ DATABASE_URL: 'postgres://x@h/d' }).database.embedded).toBeUndefined();
  });

  it('reads per-task uncertain-delivery policies', () => {
    expect(
      loadConfig({ UNCERTAIN_DELIVERY: 'send_welcome_email=mark_unknown, send_booking_confirmation=resend' })
        .ledger.uncertainDelivery,
    ).toEqual({ send_welcome_email: 'mark_unknown', send_booking_confirmation: 'resend' });
    expect(problemsOf({ UNCERTAIN_DELIVERY: 'send_welcome_email=maybe' })).toEqual([
      expect.stringMatching(/^UNCERTAIN_DELIVERY: /),
    ]);
  });

  it('throws a ConfigError whose message lists every problem', () => {
    expect(() => loadConfig({ REDIS_PORT: 'abc', SMTP_PORT: '0' })).toThrow(/REDIS_PORT: [\s\S]*SMTP_PORT: /);
  });
});

describe('the returned configuration', () => {
  const config = loadConfig({});

  it('is frozen', () => {
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('is frozen all the way down', () => {
    expect(() => {
      (config.smtp as { port: number }).port = 25;
    }).toThrow(TypeError);
    expect(Object.isFrozen(config.database.users)).toBe(true);
  });
});

describe('USERS_ACTIVE_COLUMN', () => {
  it('filters on is_active when unset', () => {
    expect(loadConfig({}).database.users.activeColumn).toBe('is_active');
  });

  it('reads every user when set empty', () => {
    expect(loadConfig({ USERS_ACTIVE_COLUMN: '' }).database.users.activeColumn).toBeUndefined();
  });

  it('refuses a value that is not a column name', () => {
    expect(problemsOf({ USERS_ACTIVE_COLUMN: 'active; drop table users' })).toEqual([
      expect.stringMatching(/^USERS_ACTIVE_COLUMN: /),
    ]);
  });
});

describe('loadClientConfig', () => {
  it('builds the Redis target from the same variables as the workers', () => {
    const env = { REDIS_HOST: 'cache.internal', REDIS_PASSWORD: 'p@ss', QUEUE_PREFIX: 'emails' };
    expect(loadClientConfig(env)).toEqual({ redis: loadConfig(env).redis });
    // The client encrypts with the same keys and fields the workers decrypt with.
    expect(loadEncryptionConfig(env)).toEqual(loadConfig(env).encryption);
    expect(loadClientConfig(env).redis.prefix).toBe('emails');
  });

  it('does not fail in production without SMTP_HOST', () => {
    expect(loadClientConfig({ NODE_ENV: 'production' }).redis.url).toBe('redis://127.0.0.1:6379/0');
  });

  it('ignores bad values of variables only the workers read', () => {
    expect(() => loadClientConfig({ WORKER_CONCURRENCY: '0', SMTP_PORT: 'x' })).not.toThrow();
  });

  it('refuses a bad Redis variable', () => {
    expect(() => loadClientConfig({ REDIS_PORT: 'x' })).toThrow(ConfigError);
  });
});

describe('health and monitor variables', () => {
  it('default to HEALTH_PORT 8004 (0 under NODE_ENV=test), stats every 60 s, the monitor on 5555, open', () => {
    const config = loadConfig({});
    expect(config.health).toEqual({ port: 8004, statsIntervalS: 60 });
    expect(loadConfig({ NODE_ENV: 'test' }).health.port).toBe(0);
    expect(config.monitor).toEqual({
      port: 5555,
      basePath: '',
      operator: undefined,
      viewer: undefined,
      apiToken: undefined,
    });
  });

  it('read the logins, the token and a base path without its trailing slash', () => {
    const config = loadConfig({
      HEALTH_PORT: '0',
      MONITOR_BASE_PATH: '/ops/monitor/',
      MONITOR_USER: 'ops',
      MONITOR_PASSWORD: 'pw',
      MONITOR_VIEWER_USER: 'view',
      MONITOR_VIEWER_PASSWORD: 'pw2',
      API_TOKEN: '0123456789abcdef',
    });
    expect(config.health.port).toBe(0);
    expect(config.monitor).toMatchObject({
      basePath: '/ops/monitor',
      operator: { user: 'ops', password: 'pw' },
      viewer: { user: 'view', password: 'pw2' },
      apiToken: '0123456789abcdef',
    });
  });

  it('report one line per bad variable', () => {
    const problems = problemsOf({
      HEALTH_PORT: 'eighty',
      MONITOR_BASE_PATH: 'no-slash',
      MONITOR_USER: 'ops',
      MONITOR_VIEWER_PASSWORD: 'x',
      API_TOKEN: 'short',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^HEALTH_PORT: /),
        expect.stringMatching(/^MONITOR_BASE_PATH: /),
        'MONITOR_PASSWORD: required with MONITOR_USER',
        'MONITOR_VIEWER_USER: required with MONITOR_VIEWER_PASSWORD',
        expect.stringMatching(/^API_TOKEN: expected at least 16/),
      ]),
    );
  });

  it('refuse a viewer without an operator, or with the operator’s name', () => {
    expect(problemsOf({ MONITOR_VIEWER_USER: 'v', MONITOR_VIEWER_PASSWORD: 'p' })).toContain(
      'MONITOR_USER: required when MONITOR_VIEWER_USER is set (a viewer needs an operator)',
    );
    expect(
      problemsOf({
        MONITOR_USER: 'a',
        MONITOR_PASSWORD: 'p',
        MONITOR_VIEWER_USER: 'a',
        MONITOR_VIEWER_PASSWORD: 'q',
      }),
    ).toContain('MONITOR_VIEWER_USER: must differ from MONITOR_USER');
  });
});

describe('the bridges’ variables', () => {
  it('default to the service’s Redis, the queue email_notifications and results kept 1 hour', () => {
    const { celery, ingest } = loadConfig({ NODE_ENV: 'test', REDIS_URL: 'redis://cache:6379/2' }).bridges;
    expect(celery).toEqual({
      brokerUrl: 'redis://cache:6379/2',
      queues: ['email_notifications'],
      resultBackend: undefined,
      resultExpiresS: 3600,
    });
    expect(ingest).toEqual({ streams: [], channels: [] });
  });

  it('read an amqp:// broker (kombu’s pyamqp:// too) and comma-separated names', () => {
    const { bridges } = loadConfig({
      NODE_ENV: 'test',
      CELERY_BROKER_URL: 'pyamqp://guest:guest@rabbit:5672//',
      CELERY_QUEUES: 'a, b',
      INGEST_STREAMS: 'emails',
    });
    expect(bridges.celery.brokerUrl).toBe('amqp://guest:guest@rabbit:5672//');
    expect(bridges.celery.queues).toEqual(['a', 'b']);
    expect(bridges.ingest.streams).toEqual(['emails']);
  });

  it('refuse another broker or result backend scheme, naming the variable', () => {
    expect(() =>
      loadConfig({ NODE_ENV: 'test', CELERY_BROKER_URL: 'sqs://x', CELERY_RESULT_BACKEND: 'rpc://' }),
    ).toThrow(/CELERY_BROKER_URL: expected a URL[\s\S]*CELERY_RESULT_BACKEND: expected a URL/);
  });

  it('are all a bridge-only process needs: no SMTP or database in production', () => {
    const config = loadBridgeConfig({ NODE_ENV: 'production', CELERY_RESULT_BACKEND: 'redis://r:6379/1' });
    expect(config.bridges.celery.resultBackend).toBe('redis://r:6379/1');
  });
});

describe('the deliverability variables', () => {
  it('default to no quota, 5 OTPs per address per 10 minutes, 30 days of suppression and no webhooks', () => {
    const { deliverability } = loadConfig({ NODE_ENV: 'test' });
    expect(deliverability.rateLimit).toBeUndefined();
    expect(deliverability.recipientLimits).toEqual({
      send_otp_verification_email: { max: 5, windowS: 600, label: '5 per 10m' },
    });
    expect(deliverability.suppressionDays).toBe(30);
    expect(deliverability.webhooks).toMatchObject({
      genericSecret: undefined,
      snsTopicArns: [],
      sendgridPublicKey: undefined,
      postmark: undefined,
    });
    expect(deliverability.webhooks.snsCertHost.test('sns.eu-west-1.amazonaws.com')).toBe(true);
    expect(deliverability.webhooks.snsCertHost.test('sns.eu-west-1.amazonaws.com.evil.example')).toBe(false);
    expect(deliverability.unsubscribe).toBeUndefined();
  });

  it('reads EMAIL_RATE_LIMIT as per second with an optional burst', () => {
    expect(loadConfig({ NODE_ENV: 'test', EMAIL_RATE_LIMIT: '50' }).deliverability.rateLimit).toEqual({
      perSecond: 50,
      burst: 50,
    });
    expect(loadConfig({ NODE_ENV: 'test', EMAIL_RATE_LIMIT: '14/100' }).deliverability.rateLimit).toEqual({
      perSecond: 14,
      burst: 100,
    });
  });

  it('reads RECIPIENT_LIMITS per task, and none as no limits at all', () => {
    const limits = loadConfig({
      NODE_ENV: 'test',
      RECIPIENT_LIMITS: 'send_otp_verification_email=3/1h, send_welcome_email=1/1d',
    }).deliverability.recipientLimits;
    expect(limits).toEqual({
      send_otp_verification_email: { max: 3, windowS: 3600, label: '3 per 1h' },
      send_welcome_email: { max: 1, windowS: 86_400, label: '1 per 1d' },
    });
    expect(loadConfig({ NODE_ENV: 'test', RECIPIENT_LIMITS: 'none' }).deliverability.recipientLimits).toEqual(
      {},
    );
  });

  it('reports each bad deliverability variable on a line of its own', () => {
    const problems = problemsOf({
      NODE_ENV: 'test',
      EMAIL_RATE_LIMIT: 'fast',
      RECIPIENT_LIMITS: 'send_otp_verification_email=5',
      BOUNCE_WEBHOOK_SECRET: 'short',
      SENDGRID_WEBHOOK_PUBLIC_KEY: 'bm90IGEga2V5',
      SUBSCRIBED_TASKS: 'send_welcome_email',
      POSTMARK_WEBHOOK_USER: 'postmark',
    });
    expect(problems.map((line) => line.split(':')[0]).sort()).toEqual([
      'BOUNCE_WEBHOOK_SECRET',
      'EMAIL_RATE_LIMIT',
      'POSTMARK_WEBHOOK_USER, POSTMARK_WEBHOOK_PASSWORD',
      'PUBLIC_BASE_URL',
      'RECIPIENT_LIMITS',
      'SENDGRID_WEBHOOK_PUBLIC_KEY',
      'UNSUBSCRIBE_SECRET',
    ]);
  });
});
