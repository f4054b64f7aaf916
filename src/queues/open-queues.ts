/**
 * The queue handles of the contract's queues, opened one way for every process that needs them (the workers,
 * the monitor, the bridges): same prefix, same events-stream cap, an error listener on each.
 */
import { Queue } from 'bullmq';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { QueueName } from '../tasks/define-task.js';
import { isRedisConnectionError, queuePrefix, type RedisConnection } from './connection.js';

export interface QueueHandles {
  readonly queues: ReadonlyMap<QueueName, Queue>;
  get(name: QueueName): Queue;
  close(): Promise<void>;
}

export function openQueues(
  names: readonly QueueName[],
  redis: RedisConnection,
  config: Pick<Config, 'redis' | 'retention'>,
  logger: Logger,
): QueueHandles {
  const queues = new Map<QueueName, Queue>();
  for (const name of names) {
    // A Queue records the events-stream cap in the queue's meta, which the workers' scripts read.
    const queue = new Queue(name, {
      connection: redis,
      prefix: queuePrefix(config.redis, name),
      streams: { events: { maxLen: config.retention.eventsMaxLen } },
    });
    // A lost connection is reported once, by the Redis breaker; a queue's own errors are worth more.
    queue.on('error', (error) =>
      logger[isRedisConnectionError(error) ? 'debug' : 'error'](
        { queue: name, err: error.message },
        'queue error',
      ),
    );
    queues.set(name, queue);
  }
  return {
    queues,
    get(name) {
      const queue = queues.get(name);
      if (!queue) throw new Error(`queue ${name} is not open here`);
      return queue;
    },
    async close() {
      await Promise.all([...queues.values()].map((queue) => queue.close()));
    },
  };
}
