/**
 * The typed producer client: routes each task name to its queue, validates the payload before anything leaves
 * the process, and fails fast when Redis is unreachable. Imports neither nodemailer nor pg.
 */
import type * as BullmqModule from 'bullmq';
import type { Job, JobsOptions, Queue, QueueEvents } from 'bullmq';
import type { z } from 'zod';
import { loadClientConfig, loadEncryptionConfig, type RedisTarget } from './config.js';
import {
  AmbiguousJobIdError,
  InvalidPayloadError,
  QueueUnavailableError,
  TaskFailedError,
  UnknownTaskError,
  WaitTimeoutError,
} from './errors.js';
import { QUEUE_NAMES, type QueueName } from './tasks/define-contract.js';
import { parsePayload } from './tasks/parse-payload.js';
import { TASK_NAMES, contracts, type TaskName, type Contracts } from './tasks/contracts.js';
import { createRedis, queuePrefix, waitUntilReady, type RedisConnection } from './connection.js';
import { redact, reportOf, statusOf, type TaskStatus } from './results.js';
import { encryptPayload, type PayloadEncryption } from './payload-crypto.js';

/**
 * bullmq, loaded when a client first talks to Redis rather than when the package is imported: the workers import
 * this package for the contract and run bullmq of their own, and a static import would load the package's bundled
 * copy into every worker process beside it (about 4 MB of heap, 8 MB of RSS) for nothing.
 */
type Bullmq = typeof BullmqModule;
let bullmqLoading: Promise<Bullmq> | undefined;
const loadBullmq = () => (bullmqLoading ??= import('bullmq'));

/** What a producer passes for task `N`: the schema's input type (defaults may be left out). */
export type PayloadOf<N extends TaskName> = z.input<Contracts[N]['schema']>;

export interface EnqueueOptions {
  /** Milliseconds to wait before the job becomes runnable. */
  delay?: number;
  /** BullMQ priority, 1 highest; defaults to the task's own (OTP before welcome on auth_emails). */
  priority?: number;
  /**
   * Enqueues with the same key (per task) send one email. Any string of 1–256 characters works: it is encoded
   * into a job id BullMQ accepts.
   */
  idempotencyKey?: string;
  /**
   * Not sent after this moment: the job fails with `expired` instead (the payload's `expires_at`, the earlier of
   * the two when the payload has one too).
   */
  expiresAt?: Date;
}

export interface WaitOptions extends EnqueueOptions {
  /** How long to wait for the job to finish before rejecting with WaitTimeoutError (30 000 ms); the job runs on. */
  timeoutMs?: number;
}

/** A job's return value: the old service's dictionary (success, email, timestamp, echo keys, message_id). */
export type TaskResult = Record<string, unknown>;

export interface EnqueueRequest<N extends TaskName = TaskName> {
  name: N;
  payload: PayloadOf<N>;
  options?: EnqueueOptions;
}

export interface EmailClientOptions {
  /**
   * Redis in any mode, one server, Sentinel or Cluster (what `loadClientConfig().redis` returns); wins over
   * `redisUrl` and `prefix`. Defaults to the environment's REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES.
   */
  redis?: RedisTarget;
  /** One Redis server; defaults to REDIS_URL (or REDIS_HOST…) from the environment. */
  redisUrl?: string;
  /** Redis key prefix of the queues, QUEUE_PREFIX (`bull`). */
  prefix?: string;
  /**
   * How long an enqueue may wait for a connection to Redis before it rejects with QueueUnavailableError, having
   * sent nothing (1000 ms). A write already sent is bounded by the connection's command timeout (2 s).
   */
  timeoutMs?: number;
  /**
   * Keys and fields for encrypting sensitive payload fields (the OTP code) before they reach Redis; defaults to
   * the environment's PAYLOAD_ENCRYPTION_KEY and ENCRYPTED_FIELDS (no key: sent in clear text).
   */
  encryption?: PayloadEncryption;
}

export interface EmailClient {
  /** Returns the job id. */
  enqueue<N extends TaskName>(name: N, payload: PayloadOf<N>, options?: EnqueueOptions): Promise<string>;
  /** Returns the job ids in the order of `requests`. */
  enqueueMany(requests: readonly EnqueueRequest[]): Promise<string[]>;
  /**
   * Like `enqueueMany`, but a request that is refused (unknown task, invalid payload or key) is reported in its
   * slot instead of failing the others; an unreachable Redis still rejects the whole call. For the bridges.
   */
  enqueueSettled(requests: readonly EnqueueRequest[]): Promise<Array<{ id: string } | { error: Error }>>;
  /**
   * Enqueues and waits for the outcome, like Celery's `AsyncResult.get()`: resolves with the job's result, or
   * rejects with TaskFailedError (the failed reason and the worker's error code) once it failed for good, or with
   * WaitTimeoutError after `timeoutMs` (the job keeps running). Opens one more Redis connection per queue waited
   * on (BullMQ's QueueEvents, a blocking read of the queue's event stream), kept until `close()`.
   */
  enqueueAndWait<N extends TaskName>(
    name: N,
    payload: PayloadOf<N>,
    options?: WaitOptions,
  ): Promise<TaskResult>;
  /**
   * The job's state, runs, result or failed reason, and the ledger's delivery status; `unknown` for an id no queue
   * holds. `name` (the task) says which queue to look in: numeric ids are per queue; ids from an idempotency key
   * name their task.
   */
  getTaskStatus(jobId: string, name?: TaskName): Promise<TaskStatus>;
  close(): Promise<void>;
}

export function createEmailClient(options: EmailClientOptions = {}): EmailClient {
  const target = redisTargetOf(options);
  const timeoutMs = options.timeoutMs ?? 1_000;
  const encryption = options.encryption ?? loadEncryptionConfig();
  const prepare = (request: EnqueueRequest) => prepareJob(request, encryption);
  let lastError: Error | undefined;
  const redis = createRedis(target, 'producer', (error) => (lastError = error));
  // An error from an earlier outage must not be blamed for a later failure.
  redis.on('ready', () => (lastError = undefined));
  let bullmq: Bullmq | undefined;
  // Set by withRedis before any work runs: everything that reaches a queue runs inside it.
  const bull = (): Bullmq => {
    if (!bullmq) throw new Error('bullmq used before withRedis loaded it');
    return bullmq;
  };
  const queues = new Map<QueueName, Queue>();
  const events = new Map<QueueName, { queueEvents: QueueEvents; connection: RedisConnection }>();

  const queueFor = (name: QueueName) => {
    let queue = queues.get(name);
    if (!queue) {
      // The workers own the queue's settings (the events-stream cap); a producer must not reset them.
      queue = new (bull().Queue)(name, {
        connection: redis,
        prefix: queuePrefix(target, name),
        skipMetasUpdate: true,
      });
      queue.on('error', (error) => (lastError = error));
      queues.set(name, queue);
    }
    return queue;
  };

  const eventsFor = async (name: QueueName) => {
    let entry = events.get(name);
    if (!entry) {
      // Read from the stream's last event as it is now, before the job is added: a reader starting at `$` would
      // miss what happens before its first blocking read, and a job may finish that fast.
      const [last] = await redis.xrevrange(queueFor(name).keys.events!, '+', '-', 'COUNT', 1);
      if (events.get(name)) return events.get(name)!.queueEvents;
      // A blocking read of the event stream needs a connection of its own, one that waits out an outage.
      const connection = createRedis(target, 'worker', (error) => (lastError = error));
      const queueEvents = new (bull().QueueEvents)(name, {
        connection,
        prefix: queuePrefix(target, name),
        lastEventId: last?.[0] ?? '0-0',
      });
      queueEvents.on('error', (error) => (lastError = error));
      entry = { queueEvents, connection };
      events.set(name, entry);
    }
    return entry.queueEvents;
  };

  const withRedis = async <T>(work: () => Promise<T>, action = 'enqueue'): Promise<T> => {
    bullmq ??= await loadBullmq();
    try {
      await waitUntilReady(redis, timeoutMs);
    } catch (error) {
      const cause = lastError ?? (error as Error);
      throw new QueueUnavailableError(
        `could not ${action}: Redis unavailable (${cause.message})${action === 'enqueue' ? '; nothing was enqueued' : ''}`,
        {
          cause: error,
        },
      );
    }
    // From here the write is on its way: no timer of ours may report "nothing enqueued" while Redis takes it.
    // The connection's own command timeout bounds it, and then the outcome is unknown.
    try {
      return await work();
    } catch (error) {
      if (action !== 'enqueue') throw error;
      throw new QueueUnavailableError(
        `Redis did not confirm the enqueue (${(error as Error).message}): the job may have been enqueued; ` +
          'enqueue again with the same idempotencyKey to be safe',
        { cause: error },
      );
    }
  };

  return {
    async enqueue(name, payload, enqueueOptions) {
      const job = prepare({ name, payload, options: enqueueOptions });
      const added = await withRedis(() => queueFor(job.queue).add(job.name, job.data, job.opts));
      return String(added.id);
    },
    async enqueueAndWait(name, payload, waitOptions = {}) {
      const { timeoutMs: waitMs = 30_000, ...enqueueOptions } = waitOptions;
      const contract = contracts[name];
      const prepared = prepare({ name, payload, options: enqueueOptions });
      const queueEvents = await withRedis(() => eventsFor(contract.queue));
      const job = await withRedis(() =>
        queueFor(prepared.queue).add(prepared.name, prepared.data, prepared.opts),
      );
      const id = String(job.id);
      try {
        const result: unknown = await job.waitUntilFinished(queueEvents, waitMs);
        return redact((result ?? {}) as TaskResult, contract, payload);
      } catch (error) {
        const reason = (error as Error).message;
        if (/timed out before finishing/.test(reason)) throw new WaitTimeoutError(id, waitMs);
        // A failure for good is on the job, with the code the worker recorded; anything else (the client closed,
        // Redis gone while waiting) is not the job's outcome.
        const failed = await bull()
          .Job.fromId(queueFor(contract.queue), id)
          .catch(() => undefined);
        if (!failed?.finishedOn || !failed.failedReason) throw error;
        throw new TaskFailedError(id, redact(failed.failedReason, contract, payload), reportOf(failed).code);
      }
    },
    async getTaskStatus(jobId, name) {
      if (name !== undefined && !Object.hasOwn(contracts, name))
        throw new UnknownTaskError(String(name), TASK_NAMES);
      const names = name ? [contracts[name].queue] : queuesOf(jobId);
      return withRedis(async () => {
        const found = (
          await Promise.all(names.map((queue) => bull().Job.fromId(queueFor(queue), jobId)))
        ).filter((job): job is Job => job !== undefined);
        if (found.length > 1)
          throw new AmbiguousJobIdError(
            jobId,
            found.map((job) => job.name),
          );
        const job = found[0];
        if (!job) return { id: jobId, task: undefined, state: 'unknown', attempts: 0 };
        const contract = Object.hasOwn(contracts, job.name) ? contracts[job.name as TaskName] : undefined;
        return statusOf(job, contract);
      }, 'read the job');
    },
    async enqueueMany(requests) {
      return addAll(requests.map(prepare));
    },
    async enqueueSettled(requests) {
      const settled: Array<{ id: string } | { error: Error }> = new Array(requests.length);
      const jobs: PreparedJob[] = [];
      const slots: number[] = [];
      requests.forEach((request, index) => {
        try {
          jobs.push(prepare(request));
          slots.push(index);
        } catch (error) {
          settled[index] = { error: error as Error };
        }
      });
      const ids = jobs.length ? await addAll(jobs) : [];
      ids.forEach((id, i) => (settled[slots[i]!] = { id }));
      return settled;
    },
    async close() {
      await Promise.all([...events.values()].map(({ queueEvents }) => queueEvents.close()));
      for (const { connection } of events.values()) connection.disconnect();
      await Promise.all([...queues.values()].map((queue) => queue.close()));
      redis.disconnect();
    },
  };

  async function addAll(jobs: PreparedJob[]): Promise<string[]> {
    const byQueue = new Map<QueueName, Array<{ job: PreparedJob; index: number }>>();
    jobs.forEach((job, index) => {
      const entries = byQueue.get(job.queue);
      if (entries) entries.push({ job, index });
      else byQueue.set(job.queue, [{ job, index }]);
    });
    const ids: string[] = new Array(jobs.length);
    await withRedis(() =>
      Promise.all(
        [...byQueue].map(async ([queue, entries]) => {
          const added = await queueFor(queue).addBulk(entries.map(({ job }) => job));
          added.forEach((job, i) => (ids[entries[i]!.index] = String(job.id)));
        }),
      ),
    );
    return ids;
  }
}

/** The queues that may hold `jobId`: its task's when the id came from an idempotency key, else every queue. */
function queuesOf(jobId: string): QueueName[] {
  const task = /^(\w+)~/.exec(jobId)?.[1];
  return task && Object.hasOwn(contracts, task) ? [contracts[task as TaskName].queue] : [...QUEUE_NAMES];
}

function redisTargetOf(options: EmailClientOptions): RedisTarget {
  if (options.redis) return options.redis;
  const fromEnv = options.redisUrl && options.prefix ? undefined : loadClientConfig().redis;
  const prefix = options.prefix ?? fromEnv!.prefix;
  return options.redisUrl ? { mode: 'standalone', url: options.redisUrl, prefix } : { ...fromEnv!, prefix };
}

interface PreparedJob {
  queue: QueueName;
  name: TaskName;
  data: unknown;
  opts: JobsOptions;
}

function prepareJob(request: EnqueueRequest, encryption: PayloadEncryption): PreparedJob {
  if (!Object.hasOwn(contracts, request.name)) throw new UnknownTaskError(String(request.name), TASK_NAMES);
  const task = contracts[request.name];
  parsePayload(task, request.payload);
  const options = request.options ?? {};
  const opts: JobsOptions = {};
  if (options.delay !== undefined) opts.delay = options.delay;
  const priority = options.priority ?? task.priority;
  if (priority !== undefined) opts.priority = priority;
  if (options.idempotencyKey !== undefined) opts.jobId = jobIdForKey(task.name, options.idempotencyKey);
  // The producer's payload goes as sent: defaults such as "today" are applied when the job runs. Validated above
  // in clear text; only then are its sensitive fields encrypted.
  const payload = encryptPayload(task.name, request.payload, encryption);
  const data = options.expiresAt ? withExpiry(payload, options.expiresAt) : payload;
  return { queue: task.queue, name: request.name, data, opts };
}

/** The payload with `expires_at` set to `expiresAt`, or kept when the payload's own deadline is earlier. */
function withExpiry(payload: unknown, expiresAt: Date): unknown {
  const own = (payload as { expires_at?: unknown } | undefined)?.expires_at;
  if (typeof own === 'string' && Date.parse(own) <= expiresAt.getTime()) return payload;
  return { ...(payload as object), expires_at: expiresAt.toISOString() };
}

/**
 * BullMQ rejects ids with `:` or of digits only; percent-encoding keeps any key (unicode included) valid and
 * readable, and the task name scopes it, so one key used for a confirmation and a cancellation sends both.
 */
export function jobIdForKey(task: string, key: string): string {
  if (key.length === 0 || key.length > 256) {
    throw new InvalidPayloadError(task, [
      { field: 'idempotencyKey', message: 'expected 1 to 256 characters' },
    ]);
  }
  try {
    return `${task}~${encodeURIComponent(key)}`;
  } catch {
    // A lone UTF-16 surrogate cannot be encoded.
    throw new InvalidPayloadError(task, [
      { field: 'idempotencyKey', message: 'expected valid unicode text' },
    ]);
  }
}

let defaultClient: EmailClient | undefined;

/** Enqueues through a client built from the environment on first use. */
export function enqueue<N extends TaskName>(name: N, payload: PayloadOf<N>, options?: EnqueueOptions) {
  return (defaultClient ??= createEmailClient()).enqueue(name, payload, options);
}

export function enqueueMany(requests: readonly EnqueueRequest[]) {
  return (defaultClient ??= createEmailClient()).enqueueMany(requests);
}

/** Enqueues through the default client and waits for the job's result (see EmailClient.enqueueAndWait). */
export function enqueueAndWait<N extends TaskName>(name: N, payload: PayloadOf<N>, options?: WaitOptions) {
  return (defaultClient ??= createEmailClient()).enqueueAndWait(name, payload, options);
}

export function getTaskStatus(jobId: string, name?: TaskName) {
  return (defaultClient ??= createEmailClient()).getTaskStatus(jobId, name);
}

/** Closes the client behind `enqueue`/`enqueueMany`, so a producer process can exit. */
export async function closeDefaultClient(): Promise<void> {
  await defaultClient?.close();
  defaultClient = undefined;
}
