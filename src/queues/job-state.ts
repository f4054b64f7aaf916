/**
 * What the service keeps about a job beyond BullMQ's own fields, in the job's own hash (so it lives and dies with
 * the job): the attempts charged to it, when its current outage began, and the claims it made but never used.
 * BullMQ's `attemptsStarted` counts every run — a wait for another attempt, a turn-back by an open breaker, a
 * rerun after a crash — so it cannot be the attempt budget.
 */
import type { Job } from 'bullmq';
import type { RedisConnection } from './connection.js';

const FAILURES = 'ew:failures';
const OUTAGE_SINCE = 'ew:outageSince';
const UNSENT = 'ew:unsent:';

// Only a job that still exists gets a field: a job removed meanwhile must not leave a stray hash behind.
// A charged failure also ends the job's outage: the dependency answered, the message did not go through.
const IF_EXISTS_CHARGE = `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HDEL', KEYS[1], ARGV[2]) return redis.call('HINCRBY', KEYS[1], ARGV[1], 1) end return 0`;
const IF_EXISTS_HSETNX = `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) end return redis.call('HGET', KEYS[1], ARGV[1])`;
const IF_EXISTS_HSET = `if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return 0`;

export interface JobState {
  /** Charges one failed attempt and returns how many the job has used. */
  charge(job: Job): Promise<number>;
  /** Forgets the charged attempts and the outage: a job that failed for good starts afresh when retried. */
  reset(job: Job): Promise<void>;
  /** When the job's current outage began (ms since the epoch), recording `now` if it is the first. */
  outageSince(job: Job, now: number): Promise<number>;
  /** Notes that the run holding `token` claimed the email but certainly never sent it. */
  markUnsent(job: Job, token: string): Promise<void>;
  isUnsent(job: Job, token: string): Promise<boolean>;
}

/** `prefixOf(queue)`: the queue's key prefix (per queue in a Cluster, where each queue has its own hash tag). */
export function createJobState(redis: RedisConnection, prefixOf: (queue: string) => string): JobState {
  const key = (job: Job) => `${prefixOf(job.queueName)}:${job.queueName}:${job.id}`;
  return {
    async charge(job) {
      return Number(await redis.eval(IF_EXISTS_CHARGE, 1, key(job), FAILURES, OUTAGE_SINCE)) || 1;
    },
    async reset(job) {
      await redis.hdel(key(job), FAILURES, OUTAGE_SINCE);
    },
    async outageSince(job, now) {
      const since = await redis.eval(IF_EXISTS_HSETNX, 1, key(job), OUTAGE_SINCE, String(now));
      return Number(since) || now;
    },
    async markUnsent(job, token) {
      await redis.eval(IF_EXISTS_HSET, 1, key(job), `${UNSENT}${token}`, '1');
    },
    async isUnsent(job, token) {
      return (await redis.hexists(key(job), `${UNSENT}${token}`)) === 1;
    },
  };
}

/** The token of the run that holds a job's lock right now, or null when nobody does. */
export function lockHolder(redis: RedisConnection, prefixOf: (queue: string) => string) {
  return (queue: string, jobId: string): Promise<string | null> =>
    redis.get(`${prefixOf(queue)}:${queue}:${jobId}:lock`);
}
