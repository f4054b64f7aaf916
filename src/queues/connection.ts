/**
 * Redis connections and queue prefixes: the client package's (one factory for producers and workers, every mode),
 * re-exported where the workers have always imported them.
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
