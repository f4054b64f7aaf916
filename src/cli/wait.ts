/**
 * `start-workers wait [--timeout SECONDS]`: returns once Redis (in whatever mode it is configured) and, when
 * configured, PostgreSQL answer, or fails naming the one that did not and what it last said. The container's
 * entrypoint runs it first, so a service started together with its Redis and database does not race them.
 */
import { parseArgs } from 'node:util';
import { loadConfig, type RedisTarget } from '../config.js';
import { pingDatabase } from '../db/ping.js';
import { StartupError } from '../errors.js';
import { createRedis, describeRedis, waitUntilReady } from '../queues/connection.js';
import { UsageError } from './usage-error.js';

const ATTEMPT_TIMEOUT_MS = 2_000;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { timeout: { type: 'string', default: '60' } },
    strict: true,
  });
  const timeoutS = Number(values.timeout);
  if (!Number.isInteger(timeoutS) || timeoutS < 0 || timeoutS > 3_600) {
    throw new UsageError(`--timeout: expected whole seconds from 0 to 3600, got "${values.timeout}"`);
  }
  const config = loadConfig();
  const deadline = Date.now() + timeoutS * 1_000;
  await waitUntilAnswering(`Redis (${describeRedis(config.redis)})`, () => pingRedis(config.redis), {
    deadline,
    timeoutS,
  });
  const databaseUrl = config.database.url;
  if (databaseUrl) {
    const { hostname, port, pathname } = new URL(databaseUrl);
    await waitUntilAnswering(
      `PostgreSQL (${hostname}:${port || 5432}${pathname})`,
      () => pingDatabase(databaseUrl, ATTEMPT_TIMEOUT_MS),
      { deadline, timeoutS },
    );
  }
  return 0;
}

async function waitUntilAnswering(
  what: string,
  ping: () => Promise<void>,
  { deadline, timeoutS }: { deadline: number; timeoutS: number },
): Promise<void> {
  let waiting = false;
  for (;;) {
    try {
      await ping();
      if (waiting) process.stderr.write(`start-workers: ${what} answers\n`);
      return;
    } catch (error) {
      const reason = (error as Error).message;
      if (Date.now() >= deadline) {
        throw new StartupError(`${what} did not answer within ${timeoutS} s (WAIT_TIMEOUT): ${reason}`);
      }
      if (!waiting) process.stderr.write(`start-workers: waiting for ${what}: ${reason}\n`);
      waiting = true;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

async function pingRedis(target: RedisTarget): Promise<void> {
  let lastError: Error | undefined;
  const redis = createRedis(target, 'producer', (error) => (lastError = error));
  try {
    await waitUntilReady(redis, ATTEMPT_TIMEOUT_MS);
    await redis.ping();
  } catch (error) {
    // "not ready after 2000 ms" says less than the refused connection or the wrong password behind it.
    throw lastError ?? error;
  } finally {
    redis.disconnect();
  }
}
