/**
 * The typed producer client: routes each task name to its queue, validates the payload before anything leaves
 * the process, and fails fast when Redis is unreachable. Imports neither nodemailer nor pg.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { z } from 'zod';
import { loadClientConfig, loadEncryptionConfig, type RedisTarget } from './config.js';
import { InvalidPayloadError, QueueUnavailableError, UnknownTaskError } from './errors.js';
import type { QueueName, TaskDefinition } from './tasks/define-task.js';
import { parsePayload } from './tasks/parse-payload.js';
import { TASK_NAMES, tasks, type TaskName, type Tasks } from './tasks/registry.js';
import { createRedis, queuePrefix, waitUntilReady } from './queues/connection.js';
import { encryptPayload, type PayloadEncryption } from './payload-crypto.js';

/** What a producer passes for task `N`: the schema's input type (defaults may be left out). */
export type PayloadOf<N extends TaskName> = z.input<Tasks[N]['schema']>;

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
  const queues = new Map<QueueName, Queue>();

  const queueFor = (name: QueueName) => {
    let queue = queues.get(name);
    if (!queue) {
      // The workers own the queue's settings (the events-stream cap); a producer must not reset them.
      queue = new Queue(name, {
        connection: redis,
        prefix: queuePrefix(target, name),
        skipMetasUpdate: true,
      });
      queue.on('error', (error) => (lastError = error));
      queues.set(name, queue);
    }
    return queue;
  };

  const withRedis = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      await waitUntilReady(redis, timeoutMs);
    } catch (error) {
      const cause = lastError ?? (error as Error);
      throw new QueueUnavailableError(
        `could not enqueue: Redis unavailable (${cause.message}); nothing was enqueued`,
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
  if (!Object.hasOwn(tasks, request.name)) throw new UnknownTaskError(String(request.name), TASK_NAMES);
  const task = tasks[request.name];
  parsePayload(task as TaskDefinition, request.payload);
  const options = request.options ?? {};
  const opts: JobsOptions = {};
  if (options.delay !== undefined) opts.delay = options.delay;
  const priority = options.priority ?? ('priority' in task ? task.priority : undefined);
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

/** Closes the client behind `enqueue`/`enqueueMany`, so a producer process can exit. */
export async function closeDefaultClient(): Promise<void> {
  await defaultClient?.close();
  defaultClient = undefined;
}
