/**
 * What a person does with dead letters, from the CLI (`start-workers dlq`) or the monitor: list them, replay them,
 * purge old ones; and the retention the workers apply every minute.
 *
 * A replay puts the original job back on its queue — same job id, so the same idempotency key and ledger row:
 * an email the ledger knows was sent completes as a duplicate instead of going twice — with a fresh attempt
 * budget. A letter whose job is gone, that is not a job's (a bridge's), or whose email is past its deadline (an
 * OTP code no longer valid) is refused with the reason.
 */
import type { Job, Queue } from 'bullmq';
import { maskEmailsIn } from '../logger.js';
import { decryptPayload, parsePayload, type EncryptionKey } from '@email-workers/client/internal';
import { findTask } from '../tasks/registry.js';
import { DEAD_LETTER_QUEUE, FAILED_JOB_SOURCE, type DeadLetterData } from './dead-letter.js';
import type { RedisConnection } from './connection.js';
import type { JobState } from './job-state.js';
import { expiry } from './process-job.js';

/** Every state a letter can be in: nothing consumes the queue, but another service might. */
const LETTER_STATES = ['waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed'] as const;

export interface DeadLetterView {
  id: string;
  /** When it was dead-lettered. */
  at: Date;
  data: Partial<DeadLetterData>;
  /** Removes the letter; false when it was gone already. */
  remove(): Promise<boolean>;
}

export interface DeadLetterFilter {
  task?: string | undefined;
  /** Only letters dead-lettered after this moment. */
  since?: Date | undefined;
  limit?: number | undefined;
}

export interface ReplayResult {
  id: string;
  replayed: boolean;
  /** Why it was refused, or where it went. */
  detail: string;
}

export interface DeadLetterAdmin {
  /** Newest first. */
  list(filter?: DeadLetterFilter): Promise<DeadLetterView[]>;
  replay(id: string): Promise<ReplayResult>;
  replayAll(filter?: DeadLetterFilter): Promise<ReplayResult[]>;
  /** Removes letters dead-lettered more than `olderThanMs` ago; returns how many. */
  purge(olderThanMs: number): Promise<number>;
  /** DEAD_LETTER_RETENTION and DEAD_LETTER_RETENTION_COUNT: removes what is older, then the oldest over the count. */
  trim(retentionMs: number, maxCount: number): Promise<number>;
}

export interface DeadLetterAdminDeps {
  deadLetters: Queue;
  /** The contract's queue of that name, or undefined for a name that is not one. */
  queueFor(name: string): Queue | undefined;
  jobState: JobState;
  redis: RedisConnection;
  /** PAYLOAD_ENCRYPTION_KEY: an encrypted OTP is decrypted to read its deadline. */
  keys?: readonly EncryptionKey[];
  now?: () => Date;
}

/** How many letters one listing looks at, at most: inputs stay bounded. */
const MAX_SCAN = 100_000;

export function deadLetterAdmin({
  deadLetters,
  queueFor,
  jobState,
  redis,
  keys = [],
  now = () => new Date(),
}: DeadLetterAdminDeps) {
  const list: DeadLetterAdmin['list'] = async (filter = {}) => {
    const jobs = await deadLetters.getJobs([...LETTER_STATES], 0, MAX_SCAN - 1);
    return jobs
      .filter((job): job is Job => Boolean(job))
      .map((job) => ({
        id: String(job.id),
        at: new Date(job.timestamp),
        data: job.data as Partial<DeadLetterData>,
        remove: () =>
          job.remove().then(
            () => true,
            () => false,
          ),
      }))
      .filter((letter) => !filter.task || (letter.data.task ?? '') === filter.task)
      .filter((letter) => !filter.since || letter.at.getTime() >= filter.since.getTime())
      .sort((a, b) => b.at.getTime() - a.at.getTime())
      .slice(0, filter.limit ?? MAX_SCAN);
  };

  const refuse = (id: string, detail: string): ReplayResult => ({ id, replayed: false, detail });

  const replay: DeadLetterAdmin['replay'] = async (id) => {
    const letter = await deadLetters.getJob(id);
    if (!letter) return refuse(id, 'no such dead letter');
    const data = letter.data as Partial<DeadLetterData>;
    if (data.source !== FAILED_JOB_SOURCE || !data.job) {
      return refuse(
        id,
        `a message refused by ${data.source ?? letter.name}, not a job: send it again at its source`,
      );
    }
    const queue = queueFor(data.job.queue);
    const job = queue && (await queue.getJob(data.job.id));
    if (!queue || !job) {
      return refuse(
        id,
        'its job is gone (FAILED_JOB_RETENTION); the letter keeps only a masked copy of the payload',
      );
    }
    const state = await job.getState();
    if (state !== 'failed') {
      // Retried another way (the board, the API) since: the letter has done its work.
      await letter.remove().catch(() => undefined);
      return refuse(id, `its job is ${state} now, not failed; letter removed`);
    }
    const deadline = expiredAt(job, keys, now());
    if (deadline)
      return refuse(id, `expired at ${deadline.toISOString()}: a late ${job.name} is worse than none`);
    // A fresh budget: the attempts charged (job-state.ts) and the crashes counted (BullMQ's stc) start again.
    await jobState.reset(job);
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    await redis.hdel(`${queue.opts.prefix}:${queue.name}:${job.id}`, 'stc');
    await letter.remove();
    // A new failure of the same job is a new letter, alerted again.
    await redis.del(`${deadLetters.opts.prefix}:${DEAD_LETTER_QUEUE}:alerted:${id}`);
    return { id, replayed: true, detail: `back on ${data.job.queue} as job ${maskEmailsIn(data.job.id)}` };
  };

  const admin: DeadLetterAdmin = {
    list,
    replay,
    async replayAll(filter = {}) {
      const results: ReplayResult[] = [];
      for (const letter of await list({ ...filter, limit: undefined })) results.push(await replay(letter.id));
      return results;
    },
    async purge(olderThanMs) {
      const cutoff = now().getTime() - olderThanMs;
      let removed = 0;
      for (const letter of await list())
        if (letter.at.getTime() < cutoff && (await letter.remove())) removed++;
      return removed;
    },
    async trim(retentionMs, maxCount) {
      let removed = await admin.purge(retentionMs);
      const letters = await list();
      for (const letter of letters.slice(maxCount)) if (await letter.remove()) removed++;
      return removed;
    },
  };
  return admin;
}

/** The task's deadline or the payload's `expires_at`, when passed; undefined for a payload that does not parse. */
function expiredAt(job: Job, keys: readonly EncryptionKey[], now: Date): Date | undefined {
  const task = findTask(job.name);
  if (!task) return undefined;
  try {
    const payload = parsePayload(task, decryptPayload(task.name, job.data, keys));
    return expiry(task, payload, new Date(job.timestamp), now);
  } catch {
    const expiresAt = (job.data as { expires_at?: unknown } | undefined)?.expires_at;
    const deadline = typeof expiresAt === 'string' ? new Date(expiresAt) : undefined;
    return deadline && deadline.getTime() <= now.getTime() ? deadline : undefined;
  }
}
