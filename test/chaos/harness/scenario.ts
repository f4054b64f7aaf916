/**
 * One chaos scenario's world: a Redis of its own (AOF everysec, on a spare port), a schema of its own on the
 * tests' PostgreSQL (or on a PostgreSQL of its own) holding the users and the ledger, a chaos SMTP server, real
 * `start-workers` processes, and the accounting.
 *
 * Accounting: every enqueue carries a unique idempotency key; an enqueue counts once the client (or
 * `queue.add`) acknowledged it. The service's Message-ID is derived from the key (`messageIdFor`), so each
 * message the SMTP server accepts is matched to its enqueue. **Lost** = acknowledged − delivered − failed with a
 * stated reason; **duplicates** = accepted copies beyond the first.
 *
 * `finish()` waits for the queues to drain, stops the workers (SIGTERM), counts, writes the figures, and checks
 * what every scenario must end with: queues drained, ledger rows matching deliveries one to one (`sent` ⇔
 * delivered), and no process that exited non-zero unless the scenario killed it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, onTestFinished } from 'vitest';
import { Job, Queue } from 'bullmq';
import { createEmailClient, type EmailClient, type PayloadOf } from '@email-workers/client';
import { migrate } from '../../../src/db/migrate.js';
import { messageIdFor } from '../../../src/mail/transport.js';
import { deliveryKey } from '../../../src/queues/delivery-key.js';
import { QUEUE_NAMES, type QueueName } from '../../../src/tasks/define-task.js';
import { findTask, type TaskName } from '../../../src/tasks/registry.js';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../../helpers/postgres.js';
import { startOwnRedis, type OwnRedis } from '../../helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';
import { waitFor } from '../../helpers/wait.js';
import { startChaosSmtp, type ChaosSmtp, type ChaosSmtpOptions } from './chaos-smtp.js';
import { checkLedger, countOutcomes, type Enqueued } from './accounting.js';
import { markPassed, writeFigures, type Figures } from './figures.js';
import { RESULTS_DIR } from './paths.js';
import { describeExit, spawnWorker, type LogLine, type WorkerProcess } from './worker-process.js';

export type { Enqueued } from './accounting.js';

export const FROM_ADDRESS = 'bookings@events.example.com';
/** Users 1…USERS exist (active) in every scenario's users table, as `member<id>@chaos.example`. */
export const USERS = 50;
export const memberAddress = (id: number) => `member${id}@chaos.example`;

export interface ScenarioOptions {
  title: string;
  /** Worker variables for every process of the scenario, over the harness's own. */
  env?: Record<string, string>;
  smtp?: ChaosSmtpOptions;
  /** A PostgreSQL of the scenario's own to use instead of the tests' one; removed after the scenario. */
  ownDatabase?: { url: string; remove(): Promise<void> };
  /** Put a TCP proxy between the workers and PostgreSQL, for outages. */
  databaseProxy?: boolean;
  /** A second chaos SMTP server as the workers' fallback relay (SMTP_FALLBACK_*); its copies count as deliveries. */
  fallbackSmtp?: boolean;
}

export interface Producer {
  /** Resolves when `total` enqueues have been acknowledged. */
  done: Promise<void>;
  readonly acknowledged: number;
  /** Enqueues refused while Redis was away (each retried with the same key until acknowledged). */
  readonly refusals: number;
}

export interface Report extends Figures {
  /** Acknowledged enqueues by key, for scenario-specific checks. */
  enqueued: ReadonlyMap<string, Enqueued>;
}

export interface Scenario {
  id: string;
  redis: OwnRedis;
  smtp: ChaosSmtp;
  /** The fallback relay, with `fallbackSmtp`. */
  fallback: ChaosSmtp | undefined;
  schema: TestSchema;
  proxy: TcpProxy | undefined;
  /** `application_name` of every worker connection to PostgreSQL. */
  applicationName: string;
  prefix: string;
  workers: WorkerProcess[];
  client: EmailClient;
  enqueued: Map<string, Enqueued>;
  /** Spawns a `start-workers` process; `env` goes over the scenario's. */
  spawnWorker(
    name: string,
    options?: { env?: Record<string, string>; expectedDeath?: boolean },
  ): WorkerProcess;
  /** Spawns `count` processes (`w1`, `w2`, …) and waits until each takes jobs. */
  startWorkers(count: number, env?: Record<string, string>): Promise<WorkerProcess[]>;
  enqueue<N extends TaskName>(task: N, payload: PayloadOf<N>, key?: string): Promise<Enqueued>;
  /** `count` emails of the standard mix (see `mixedEmail`), through the client in batches. */
  enqueueMix(count: number, options?: MixOptions): Promise<Enqueued[]>;
  /** A plain BullMQ `queue.add`, as a producer without the client would. */
  addRaw(queue: QueueName, name: string, data: unknown, jobId?: string): Promise<Enqueued>;
  /** Enqueues `total` emails of the mix at `perSecond`, retrying each refused one with its key. */
  produce(options: { total: number; perSecond: number } & MixOptions): Producer;
  queue(name: QueueName): Queue;
  job(enqueued: Enqueued): Promise<Job | undefined>;
  /** Acknowledged emails a worker process is running right now (BullMQ's `processedBy`). */
  inFlightOn(worker: WorkerProcess): Promise<Enqueued[]>;
  /** Acknowledged emails accepted at least once so far. */
  delivered(): number;
  waitForDelivered(count: number, timeoutMs?: number): Promise<void>;
  /** Waits until the producer has `enqueued` acknowledged and `delivered` are out: a fault then hits queued,
   * running and new work alike. */
  waitForProgress(producer: Producer, progress: { enqueued: number; delivered: number }): Promise<void>;
  /** Every log line of every process, with the process's name. */
  logs(): Array<LogLine & { worker: string }>;
  /** Breaker state changes logged by one process for a dependency, in order. */
  breakerChanges(worker: WorkerProcess, dependency: 'smtp' | 'database' | 'redis'): string[];
  /** How often the breaker went from closed to open, and back to closed (a failed probe's re-open not counted). */
  breakerCycles(
    worker: WorkerProcess,
    dependency: 'smtp' | 'database' | 'redis',
  ): { opened: number; closed: number };
  /** When the last of `keys` finished (BullMQ's finishedOn), or undefined while one is unfinished. */
  lastFinishedAt(keys: Iterable<Enqueued>): Promise<number | undefined>;
  /** Attempts charged to each delivered email (failures of the message itself, from its job log). */
  attemptsUsed(): Promise<Map<string, number>>;
  /** Scenario-specific figures, merged into the file. */
  record(figures: Partial<Pick<Figures, 'recoverySeconds' | 'extra' | 'notes'>>): void;
  finish(options?: { settleTimeoutMs?: number }): Promise<Report>;
}

export interface MixOptions {
  /** Include booking confirmations (`mark_unknown` on an uncertain delivery); default true. */
  bookings?: boolean;
  /** Key prefix (default: the scenario's id). */
  label?: string;
}

/** The harness's worker settings: production defaults except what a scenario must have. */
function baseEnv(scenario: Scenario, smtp: ChaosSmtpOptions | undefined, databaseUrl: string) {
  return {
    NODE_ENV: 'test',
    // CHAOS_LOG_LEVEL=debug shows more of what the processes do (breakers half open, …) in their log files.
    LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'info',
    REDIS_URL: scenario.redis.url,
    QUEUE_PREFIX: scenario.prefix,
    DATABASE_URL: databaseUrl,
    USERS_TABLE: scenario.schema.usersTable,
    LEDGER_SCHEMA: scenario.schema.schema,
    MIGRATE_ON_START: 'true',
    EMBEDDED_DATABASE: 'false',
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(scenario.smtp.port),
    ...(smtp?.auth ? { SMTP_USERNAME: smtp.auth.username, SMTP_PASSWORD: smtp.auth.password } : {}),
    ...(scenario.fallback
      ? { SMTP_FALLBACK_HOST: '127.0.0.1', SMTP_FALLBACK_PORT: String(scenario.fallback.port) }
      : {}),
    FROM_ADDRESS,
    FROM_NAME: 'Event Platform',
    SUPPORT_EMAIL: 'support@events.example.com',
    APP_URL: 'https://events.example.com',
    // Per-process health endpoints would otherwise all want the same port.
    HEALTH_PORT: '0',
  };
}

/** The n-th email of the standard mix: welcome, OTP, waitlist-joined by user id, booking confirmation by user id. */
export function mixedEmail(n: number, options: MixOptions = {}): { task: TaskName; payload: unknown } {
  const kinds = options.bookings === false ? 3 : 4;
  const user = (n % USERS) + 1;
  switch (n % kinds) {
    case 0:
      return { task: 'send_welcome_email', payload: { email: `welcome${n}@chaos.example` } };
    case 1:
      return {
        task: 'send_otp_verification_email',
        payload: { email: `otp${n}@chaos.example`, otp: '482913' },
      };
    case 2:
      return {
        task: 'send_waitlist_joined',
        payload: { user_id: user, waitlist_data: { event_name: 'Chaos Conf', position: n + 1 } },
      };
    default:
      return {
        task: 'send_booking_confirmation',
        payload: {
          user_id: user,
          booking_data: { event_name: 'Chaos Conf', booking_id: `BK-${n}`, quantity: 1 },
        },
      };
  }
}

export async function startScenario(id: string, options: ScenarioOptions): Promise<Scenario> {
  const startedAt = Date.now();
  const folder = mkdtempSync(join(tmpdir(), `email-workers-chaos-${id}-`));
  const logDir = join(RESULTS_DIR, 'logs', id);
  rmSync(logDir, { recursive: true, force: true });
  // Replaced by finish(): a scenario that fails before it must not leave the last run's figures standing.
  writeFigures({
    scenario: id,
    title: options.title,
    passed: null,
    acknowledged: 0,
    delivered: 0,
    failed: 0,
    lost: 0,
    duplicates: 0,
    recoverySeconds: null,
    durationSeconds: 0,
    failedReasons: {},
    lostKeys: [],
    duplicateKeys: [],
    ledger: {},
    processes: [],
    settings: { ...options.env },
    extra: {},
    notes: [],
    problems: ['the scenario stopped before finish() took its figures'],
    at: new Date().toISOString(),
  });
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  onTestFinished(async (context) => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
    rmSync(folder, { recursive: true, force: true });
    const error = context.task.result?.errors?.[0];
    const figures = markPassed(
      id,
      context.task.result?.state === 'pass',
      error ? String(error.message).split('\n')[0]!.slice(0, 300) : undefined,
    );
    console.log(
      `chaos ${id}: ${figures ? `${summary(figures)}, ${figures.passed ? 'pass' : 'FAIL'}` : 'no figures'}`,
    );
  });

  if (options.ownDatabase) cleanups.push(() => options.ownDatabase!.remove());
  const redis = await startOwnRedis({ appendOnlyDir: folder });
  cleanups.push(() => redis.stop());
  const smtp = await startChaosSmtp(options.smtp);
  cleanups.push(() => smtp.close());
  // No AUTH on the fallback: the scenarios that use it test the relay switch, not its credentials.
  const fallback = options.fallbackSmtp
    ? await startChaosSmtp({ keepRaw: options.smtp?.keepRaw })
    : undefined;
  if (fallback) cleanups.push(() => fallback.close());
  // What every relay accepted, per Message-ID: a delivery is a delivery whichever relay took it.
  const copies = () => {
    if (!fallback) return smtp.copies;
    const all = new Map(smtp.copies);
    for (const [messageId, n] of fallback.copies) all.set(messageId, (all.get(messageId) ?? 0) + n);
    return all;
  };
  const databaseUrl = options.ownDatabase?.url ?? TEST_DATABASE_URL;
  const schema = await createTestSchema(`chaos_${id.replace(/\W/g, '_')}`, 'integer', databaseUrl);
  cleanups.push(() => schema.drop());
  for (let user = 1; user <= USERS; user++) await schema.addUser({ id: user, email: memberAddress(user) });
  await migrate(schema.pool, schema.schema);
  const proxy = options.databaseProxy
    ? await startTcpProxy(Number(new URL(databaseUrl).port || 5432), new URL(databaseUrl).hostname)
    : undefined;
  if (proxy) cleanups.push(() => proxy.close());
  const applicationName = `chaos_${schema.schema}`;
  const workerDatabaseUrl = new URL(databaseUrl);
  if (proxy) workerDatabaseUrl.port = String(proxy.port);
  workerDatabaseUrl.searchParams.set('application_name', applicationName);

  const prefix = `chaos-${id}`;
  const client = createEmailClient({ redisUrl: redis.url, prefix, timeoutMs: 1_000 });
  cleanups.push(() => client.close());
  const queues = new Map<QueueName, Queue>();
  const enqueued = new Map<string, Enqueued>();
  const byMessageId = new Map<string, Enqueued>();
  const byJobId = new Map<string, Enqueued>();
  const extra: Partial<Figures> = { notes: [], extra: {} };
  let written: Figures | undefined;
  let sequence = 0;

  const remember = (entry: Enqueued) => {
    enqueued.set(entry.key, entry);
    byJobId.set(entry.jobId, entry);
    if (entry.messageId) byMessageId.set(entry.messageId, entry);
    return entry;
  };
  const clientEntry = (task: TaskName, jobId: string): Enqueued => {
    const key = deliveryKey(task, { id: jobId, queueName: '', timestamp: 0 }, prefix);
    return {
      key,
      jobId,
      task,
      queue: findTask(task)!.queue,
      messageId: messageIdFor(key, FROM_ADDRESS),
      ackAt: Date.now(),
      via: 'client',
    };
  };
  const nextKey = (label = id) => `${label}-${++sequence}`;

  const scenario: Scenario = {
    id,
    redis,
    smtp,
    fallback,
    schema,
    proxy,
    applicationName,
    prefix,
    workers: [],
    client,
    enqueued,

    spawnWorker(name, spawnOptions = {}) {
      const worker = spawnWorker({
        name: `${id}-${name}`,
        cwd: folder,
        logDir,
        env: {
          ...baseEnv(scenario, options.smtp, workerDatabaseUrl.toString()),
          ...options.env,
          ...spawnOptions.env,
        },
        expectedDeath: spawnOptions.expectedDeath,
      });
      scenario.workers.push(worker);
      return worker;
    },

    async startWorkers(count, env) {
      const first = scenario.workers.length + 1;
      const started = Array.from({ length: count }, (_, i) => scenario.spawnWorker(`w${first + i}`, { env }));
      await Promise.all(started.map((worker) => worker.ready()));
      return started;
    },

    async enqueue(task, payload, key = nextKey()) {
      const jobId = await client.enqueue(task, payload, { idempotencyKey: key });
      return remember(clientEntry(task, jobId));
    },

    async enqueueMix(count, mix = {}) {
      const requests = Array.from({ length: count }, () => {
        const n = sequence + 1;
        const { task, payload } = mixedEmail(n, mix);
        return { name: task, payload: payload as never, options: { idempotencyKey: nextKey(mix.label) } };
      });
      const added: Enqueued[] = [];
      for (let i = 0; i < requests.length; i += 100) {
        const batch = requests.slice(i, i + 100);
        const ids = await client.enqueueMany(batch);
        ids.forEach((jobId, j) => added.push(remember(clientEntry(batch[j]!.name, jobId))));
      }
      return added;
    },

    async addRaw(queueName, name, data, jobId) {
      const job = await scenario.queue(queueName).add(name, data, jobId ? { jobId } : {});
      const task = findTask(name);
      const key = deliveryKey(
        task?.name ?? name,
        { id: job.id, queueName, timestamp: job.timestamp },
        prefix,
      );
      return remember({
        key,
        jobId: String(job.id),
        task: task?.name ?? name,
        queue: queueName,
        messageId: task && task.queue !== 'system' ? messageIdFor(key, FROM_ADDRESS) : undefined,
        ackAt: Date.now(),
        via: 'raw',
      });
    },

    produce({ total, perSecond, ...mix }) {
      let acknowledged = 0;
      let refusals = 0;
      const done = (async () => {
        const started = Date.now();
        for (let i = 0; i < total; i++) {
          // Paced against the start, so a stall while Redis is away is not made up for by a burst.
          const due = started + (i * 1000) / perSecond;
          if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
          const n = sequence + 1;
          const { task, payload } = mixedEmail(n, mix);
          const key = nextKey(mix.label);
          for (;;) {
            try {
              await scenario.enqueue(task, payload as never, key);
              acknowledged++;
              break;
            } catch (error) {
              // The README's advice: enqueue again with the same key, which makes the retry safe.
              if ((error as { code?: string }).code !== 'QUEUE_UNAVAILABLE') throw error;
              refusals++;
              await new Promise((resolve) => setTimeout(resolve, 200));
            }
          }
        }
      })();
      return {
        done,
        get acknowledged() {
          return acknowledged;
        },
        get refusals() {
          return refusals;
        },
      };
    },

    queue(name) {
      let queue = queues.get(name);
      if (!queue) {
        queue = new Queue(name, {
          connection: { url: redis.url, maxRetriesPerRequest: 1, enableOfflineQueue: false },
          prefix,
        });
        queue.on('error', () => undefined);
        queues.set(name, queue);
        cleanups.push(() => queue!.close());
      }
      return queue;
    },

    job: (entry) => Job.fromId(scenario.queue(entry.queue), entry.jobId),

    async inFlightOn(worker) {
      const active = await Promise.all(QUEUE_NAMES.map((name) => scenario.queue(name).getActive()));
      return active
        .flat()
        .filter((job) => job.processedBy === worker.name)
        .map((job) => byJobId.get(String(job.id)))
        .filter((entry): entry is Enqueued => entry !== undefined);
    },

    delivered() {
      let count = 0;
      for (const messageId of copies().keys()) if (byMessageId.has(messageId)) count++;
      return count;
    },

    waitForDelivered: (count, timeoutMs = 60_000) =>
      waitFor(() => scenario.delivered() >= count, {
        timeoutMs,
        intervalMs: 50,
        what: `${count} emails delivered`,
      }).then(() => undefined),

    waitForProgress: (producer, progress) =>
      waitFor(
        () => producer.acknowledged >= progress.enqueued && scenario.delivered() >= progress.delivered,
        {
          timeoutMs: 60_000,
          what: `${progress.enqueued} enqueued and ${progress.delivered} delivered`,
        },
      ).then(() => undefined),

    logs: () =>
      scenario.workers.flatMap((worker) => worker.logs.map((line) => ({ ...line, worker: worker.name }))),

    breakerChanges: (worker, dependency) =>
      worker.logs.filter((line) => line.breaker === dependency).map((line) => String(line.state)),

    breakerCycles(worker, dependency) {
      // `half_open` is logged at debug: at info a failed probe shows as `open` again, after `open`.
      let state = 'closed';
      const cycles = { opened: 0, closed: 0 };
      for (const change of scenario.breakerChanges(worker, dependency)) {
        if (change === 'open' && state === 'closed') cycles.opened++;
        if (change === 'closed' && state !== 'closed') cycles.closed++;
        state = change === 'half_open' ? 'open' : change;
      }
      return cycles;
    },

    async lastFinishedAt(keys) {
      let last = 0;
      for (const entry of keys) {
        const job = await scenario.job(entry);
        if (!job?.finishedOn) return undefined;
        last = Math.max(last, job.finishedOn);
      }
      return last;
    },

    async attemptsUsed() {
      // The job's log is the service's record of charged attempts: `attempt N: …` for each failure of the
      // message itself, `run N: … (not charged …)` for a turn-back (an outage, a wait, a shutdown).
      const used = new Map<string, number>();
      for (const entry of enqueued.values()) {
        if (!entry.messageId || !copies().has(entry.messageId)) continue;
        const { logs } = await scenario.queue(entry.queue).getJobLogs(entry.jobId);
        used.set(entry.key, logs.filter((line) => /^attempt \d+:/.test(line)).length);
      }
      return used;
    },

    record(figures) {
      if (figures.recoverySeconds !== undefined) extra.recoverySeconds = figures.recoverySeconds;
      if (figures.extra) Object.assign(extra.extra!, figures.extra);
      if (figures.notes) extra.notes!.push(...figures.notes);
      // Measures taken from the logs once the processes have stopped come after finish(): rewrite the file.
      if (written) {
        written = {
          ...written,
          recoverySeconds: extra.recoverySeconds ?? null,
          extra: extra.extra!,
          notes: extra.notes!,
        };
        writeFigures(written);
      }
    },

    async finish({ settleTimeoutMs = 60_000 } = {}) {
      const problems: string[] = [];
      // 1. The queues drain: nothing waiting, running, delayed or prioritised on any queue.
      const drained = await waitFor(async () => (await pendingJobs()) === 0, {
        timeoutMs: settleTimeoutMs,
        intervalMs: 200,
        what: 'the queues to drain',
      }).then(
        () => true,
        () => false,
      );
      if (!drained)
        problems.push(`queues not drained: ${await pendingJobs().catch(() => 'unknown')} jobs pending`);

      // 2. The workers stop; a process that does not exit after SIGTERM is a problem, as is a non-zero exit.
      await Promise.all(
        scenario.workers
          .filter((worker) => !worker.exitInfo)
          .map(async (worker) => {
            // One still starting up (an orchestrator's late restart) has no signal handler yet: a deploy would
            // not stop it in that second either, so it gets to start first.
            await worker.ready().catch(() => undefined);
            worker.signal('SIGTERM');
            const timer = setTimeout(() => worker.signal('SIGKILL'), 60_000);
            await worker.exited;
            clearTimeout(timer);
          }),
      );
      for (const worker of scenario.workers) {
        const exit = worker.exitInfo!;
        if (!worker.expectedDeath && (exit.code !== 0 || exit.signal)) {
          problems.push(`${worker.name}: ${describeExit(exit)} (log: ${worker.logFile})`);
        }
      }

      // 3. The accounting, and the ledger: a row says `sent` exactly for the emails the SMTP server accepted.
      const counted = await countOutcomes(enqueued.values(), copies(), scenario.job);
      const unmatched = [...copies().keys()].filter((messageId) => !byMessageId.has(messageId));
      if (unmatched.length)
        problems.push(`${unmatched.length} accepted messages match no acknowledged enqueue`);
      const ledger = await checkLedger(schema, enqueued.values(), copies());
      if (ledger.mismatches.length) {
        problems.push(
          `${ledger.mismatches.length} ledger rows do not match the deliveries: ${ledger.mismatches.slice(0, 5).join('; ')}`,
        );
      }

      const report: Report = {
        scenario: id,
        title: options.title,
        passed: null,
        acknowledged: enqueued.size,
        delivered: counted.delivered,
        failed: counted.failed,
        lost: counted.lostKeys.length,
        duplicates: counted.duplicates,
        recoverySeconds: extra.recoverySeconds ?? null,
        durationSeconds: round((Date.now() - startedAt) / 1000),
        failedReasons: counted.failedReasons,
        lostKeys: counted.lostKeys.slice(0, 20),
        duplicateKeys: counted.duplicateKeys.slice(0, 20),
        ledger: ledger.byStatus,
        processes: scenario.workers.map((worker) => ({
          name: worker.name,
          exit: describeExit(worker.exitInfo),
          expected: worker.expectedDeath,
          startupSeconds: worker.readyAt ? secondsBetween(worker.startedAt, worker.readyAt) : null,
        })),
        settings: { ...options.env },
        extra: extra.extra ?? {},
        notes: extra.notes ?? [],
        problems,
        at: new Date().toISOString(),
        enqueued,
      };
      const figures: Figures = { ...report };
      delete (figures as Partial<Report>).enqueued;
      written = figures;
      writeFigures(figures);
      // Soft: the scenario still records its own measures, and fails at its end.
      expect.soft(problems, 'the harness checks every scenario ends with').toEqual([]);
      return report;
    },
  };

  async function pendingJobs(): Promise<number> {
    const counts = await Promise.all(
      QUEUE_NAMES.map((name) =>
        scenario.queue(name).getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children'),
      ),
    );
    return counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
  }

  cleanups.push(async () => {
    await Promise.all(scenario.workers.filter((worker) => !worker.exitInfo).map((worker) => worker.kill()));
  });
  return scenario;
}

/** The common promise: every acknowledged email delivered exactly once, none lost or failed. */
export function expectEachDeliveredOnce(report: Report, acknowledged: number): void {
  expect(report).toMatchObject({ acknowledged, delivered: acknowledged, lost: 0, duplicates: 0, failed: 0 });
}

export const round = (n: number) => Math.round(n * 10) / 10;

export function summary(f: Figures): string {
  return (
    `acknowledged ${f.acknowledged}, delivered ${f.delivered}, failed ${f.failed}, lost ${f.lost}, ` +
    `duplicates ${f.duplicates}, recovery ${f.recoverySeconds ?? '-'} s, ${f.durationSeconds} s`
  );
}

/** Seconds from `from` to `to`, rounded to a tenth. */
export const secondsBetween = (from: number, to: number) => round((to - from) / 1000);
