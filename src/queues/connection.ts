/**
 * Redis connections and queue prefixes: the client package's (one factory for producers and workers, every mode),
 * re-exported where the workers have always imported them; and what tells a lost connection from other errors.
 */
export {
  createRedis,
  dataNodes,
  describeRedis,
  queuePrefix,
  redisOptions,
  waitUntilReady,
  type ConnectionRole,
  type RedisConnection,
} from '@email-workers/client/internal';

/**
 * ioredis's errors for a command whose answer never came: the connection refused, broken or closed, or Redis hung
 * (the command timeout). The connection's status alone does not tell: it still says `ready` while a paused or
 * partitioned Redis lets commands time out, and it can be `ready` again (reconnected) by the time a command sent
 * on the broken connection fails.
 */
export function isRedisConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    LOST_CONNECTION.test(`${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`)
  );
}

const LOST_CONNECTION =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|Connection is closed|Stream isn't writeable|Command timed out/;
