/** What every API handler gets: the queues, the Redis connection behind them, and the configuration. */
import type { Redis } from 'ioredis';
import type { Config } from '../../config.js';
import type { QueueHandles } from '../../queues/open-queues.js';

export interface ApiContext {
  config: Config;
  redis: Redis;
  queues: QueueHandles;
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
