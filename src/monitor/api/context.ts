/** What every API handler gets: the queues, the Redis connection behind them, and the configuration. */
import type { Job, JobsOptions } from 'bullmq';
import type { RedisConnection } from '../../queues/connection.js';
import type { Config } from '../../config.js';
import type { DeadLetterAdmin } from '../../queues/dead-letter-admin.js';
import type { QueueHandles } from '../../queues/open-queues.js';
import type { QueueName } from '../../tasks/define-task.js';

export interface ApiContext {
  config: Config;
  redis: RedisConnection;
  queues: QueueHandles;
  /** Adds a job; adds that arrive together go to Redis as one `addBulk` per queue. */
  add(queue: QueueName, name: string, data: unknown, opts: JobsOptions): Promise<Job>;
  /** The `dead_letter` queue: list and replay (issue 12). */
  deadLetters: DeadLetterAdmin;
}

export interface ApiRequest {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  /** A request header, lower-case name. */
  header(name: string): string | undefined;
}

export interface ApiReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type ApiHandler = (request: ApiRequest, context: ApiContext) => Promise<ApiReply>;
