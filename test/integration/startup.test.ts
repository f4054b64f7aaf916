/**
 * Start-up refuses what would fail later (an evicting Redis in production, a broken template, a users lookup
 * that cannot work), says why, and leaves no connection open behind it.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StartupError, TemplateError } from '../../src/errors.js';
import { redisClientCount } from '../helpers/connections.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { startOwnRedis, type OwnRedis } from '../helpers/redis-server.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { startTestWorkers, smtpEnv, databaseEnv } from '../helpers/workers.js';

let redis: OwnRedis;
let smtp: SmtpSink;
let db: TestSchema;
let brokenTemplates: string;

beforeAll(async () => {
  [redis, smtp, db] = await Promise.all([startOwnRedis(), startSmtpSink(), createTestSchema('startup')]);
  brokenTemplates = mkdtempSync(join(tmpdir(), 'email-workers-templates-'));
  cpSync('templates', brokenTemplates, { recursive: true });
  const file = join(brokenTemplates, 'send_welcome_email/html.hbs');
  writeFileSync(file, `${readFileSync(file, 'utf8')}\n{{#if brand.name}}never closed\n`);
});

afterAll(async () => {
  await redis?.stop();
  await smtp?.close();
  await db?.drop();
  if (brokenTemplates) rmSync(brokenTemplates, { recursive: true, force: true });
});

/** Starts the workers against this file's own Redis and the SMTP sink; resolves to what start-up threw. */
async function refusal(env: Record<string, string>): Promise<Error> {
  const started = startTestWorkers('startup', {
    REDIS_URL: redis.url,
    ...smtpEnv(smtp),
    ...env,
  });
  return started.then(
    async (w) => {
      await w.running.close();
      throw new Error('start-up did not fail');
    },
    (error: Error) => error,
  );
}

/** This file's schema: its users table, and its own place for the delivery ledger. */
const workingDatabase = () => ({
  ...databaseEnv(db),
});

async function evictingRedisInProduction(): Promise<Error> {
  const client = new Redis(redis.url);
  await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
  try {
    return await refusal({
      NODE_ENV: 'production',
      FROM_ADDRESS: 'no-reply@events.example.com',
      ...workingDatabase(),
    });
  } finally {
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    client.disconnect();
  }
}

const missingEmailColumn = () => refusal({ ...workingDatabase(), USERS_EMAIL_COLUMN: 'contact_email' });

const noRedisClientsLeft = () =>
  waitFor(async () => (await redisClientCount(redis.url)) === 0, {
    timeoutMs: 3_000,
    what: 'every Redis connection to close',
  });

describe('start-up', () => {
  it('refuses a Redis whose maxmemory-policy is not noeviction in production', async () => {
    const error = await evictingRedisInProduction();
    expect(error).toBeInstanceOf(StartupError);
    expect(error.message).toMatch(/maxmemory-policy is allkeys-lru/);
  });

  it('refuses a template with a syntax error, naming the file', async () => {
    const error = await refusal({ TEMPLATES_DIR: brokenTemplates });
    expect(error).toBeInstanceOf(TemplateError);
    expect(error.message).toContain('send_welcome_email/html.hbs');
  });

  it('refuses an UNCERTAIN_DELIVERY policy for a task that does not exist', async () => {
    const error = await refusal({ UNCERTAIN_DELIVERY: 'send_bookin_confirmation=resend' });
    expect(error).toBeInstanceOf(StartupError);
    expect(error.message).toMatch(/UNCERTAIN_DELIVERY: unknown task send_bookin_confirmation/);
  });

  it('refuses a USERS_EMAIL_COLUMN the users table does not have', async () => {
    const error = await missingEmailColumn();
    expect(error).toBeInstanceOf(StartupError);
    expect(error.message).toMatch(/USERS_/);
  });
});

describe('a refused start-up', () => {
  it('closes its Redis connection after refusing an evicting Redis', async () => {
    await evictingRedisInProduction();
    await noRedisClientsLeft();
  });

  it('closes its Redis connection after refusing a users lookup that does not work', async () => {
    await missingEmailColumn();
    await noRedisClientsLeft();
  });
});
