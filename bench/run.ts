/**
 * `npm run bench`: one run, one machine, real Redis and PostgreSQL, an SMTP sink in its own process. Measures
 * throughput against the bare pipeline (bench/bare-worker.ts), latency under a steady load, the worker's cost,
 * and enqueue rates; prints one table and writes bench/results/latest.json. Measured, never asserted.
 *
 *   npm run bench -- [--n 10000] [--rate 200] [--duration 30] [--no-celery] [--no-bridge] [--bridge-only]
 *                    [--processes-only] [--scale-only] [--load-latency-only --max-rate R] [--no-scale]
 *                    [--pair-only --rounds 3]
 *                    [--out bench/results/latest.json]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { createWriteStream, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import pg from 'pg';
import { createEmailClient, jobIdForKey, type EnqueueRequest, type TaskName } from '@email-workers/client';
import { loadConfig } from '../src/config.js';
import { answers, startEmbeddedDatabase } from '../src/db/embedded.js';
import { loadTemplates } from '../src/mail/templates.js';
import { renderSample } from '../src/tasks/render-sample.js';
import { tasks } from '../src/tasks/registry.js';
import { messageIdFor } from '../src/mail/transport.js';
import { runCelery, celeryAvailable, processTree } from './celery.js';
import { ledgerCost, redisCost, type LedgerCost, type RedisCost } from './scale.js';
import { bridgeQueue, celeryProducerAvailable, removeCeleryQueue, sendCeleryTasks } from './celery-bridge.js';
import { removePrefix } from '../test/helpers/redis.js';
import { payloadFor, seedUsers, taskAt, type BenchTask } from './workload.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '200' },
    duration: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    'no-celery': { type: 'boolean', default: false },
    // Leaves out the two Celery bridge steps (they need Debian's python3-celery for the producer).
    'no-bridge': { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/latest.json' },
    // Writes a V8 CPU profile of each service worker into bench/results/profiles/ (then: node bench/top-functions.ts).
    profile: { type: 'boolean', default: false },
    // Extra node flags for the service's workers, e.g. --worker-node-args="--trace-gc".
    'worker-node-args': { type: 'string', default: '' },
    // Only the latency step, e.g. to look into it: --latency-only [--latency-ledger false].
    'latency-only': { type: 'boolean', default: false },
    // Only the service's throughput with the ledger on, e.g. to try a setting.
    'throughput-only': { type: 'boolean', default: false },
    // The bare pipeline and the service (ledger on; uncapped, then heap capped as shipped), alternately --rounds
    // times: ratios that drift of the machine's speed over a run cannot bend.
    'pair-only': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    // Only the Celery bridge's two steps: through the bridge to email, and the bridge alone.
    'bridge-only': { type: 'boolean', default: false },
    'latency-ledger': { type: 'string', default: 'true' },
    // Only the enqueue rates (the typed client and the HTTP API).
    'enqueue-only': { type: 'boolean', default: false },
    'latency-target': { type: 'string', default: 'service' },
    // Only the rows of issue 13: one process and --processes auto (heap capped, as shipped), Celery tuned.
    'processes-only': { type: 'boolean', default: false },
    // Only the cost of scale: Redis bytes per job (--scale-jobs), the ledger at --scale-rows rows.
    'scale-only': { type: 'boolean', default: false },
    'no-scale': { type: 'boolean', default: false },
    'scale-jobs': { type: 'string' },
    'scale-rows': { type: 'string' },
    // Only the latency at 50 % and 80 % of --max-rate (emails/s; else measured first).
    'load-latency-only': { type: 'boolean', default: false },
    'max-rate': { type: 'string' },
  },
});
const N = Number(args.n);
const RATE = Number(args.rate);
const DURATION_S = Number(args.duration);
const WARMUP_S = Number(args.warmup);
// 100,000 jobs and 1,000,000 ledger rows in a full run; a tenth of N's scale in a smaller one (CI's smoke run).
const SCALE_JOBS = Number(args['scale-jobs'] ?? (N >= 10_000 ? 100_000 : N * 10));
const SCALE_ROWS = Number(args['scale-rows'] ?? (N >= 10_000 ? 1_000_000 : N * 100));
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const FROM_ADDRESS = 'bench@events.example.com';
const CONCURRENCY = 10;
const POOL_SIZE = 5;
// The same pool settings for every Node pipeline: what differs is the work per email, not the connections.
const MAX_MESSAGES = 1000;
const now = () => performance.timeOrigin + performance.now();

// ── The SMTP sink ──────────────────────────────────────────────────────────────────────────────────────────
interface Sink {
  port: number;
  accepted: Array<[string, number]>;
  reset(): void;
  waitFor(count: number, timeoutMs: number): Promise<void>;
  stop(): void;
}

async function startSink(): Promise<Sink> {
  const child = fork(resolve(ROOT, 'bench/smtp-sink.ts'), {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  const sink: Sink = {
    port: 0,
    accepted: [],
    reset: () => void (sink.accepted = []),
    async waitFor(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (sink.accepted.length < count) {
        if (Date.now() > deadline)
          throw new Error(`SMTP sink got ${sink.accepted.length} of ${count} messages`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop: () => child.kill(),
  };
  child.on('message', (message: { type: string; port?: number; accepted?: Array<[string, number]> }) => {
    if (message.type === 'accepted') sink.accepted.push(...message.accepted!);
  });
  sink.port = await new Promise<number>((resolveReady) =>
    child.on('message', (message: { type: string; port?: number }) => {
      if (message.type === 'ready') resolveReady(message.port!);
    }),
  );
  return sink;
}

// ── Worker processes ───────────────────────────────────────────────────────────────────────────────────────
interface WorkerProcess {
  child: ChildProcess;
  /**
   * From /proc, over the process and its children (`--processes N`): the largest peak RSS of one process in MB,
   * and CPU seconds so far, summed.
   */
  usage(): { peakRssMb: number; cpuSeconds: number; processes: number };
  stop(): Promise<void>;
}

async function startProcess(
  command: string[],
  env: Record<string, string>,
  ready = 'workers started',
  readyCount = 1,
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, command, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // BENCH_WORKER_LOG=file keeps the workers' output (logs, --trace-gc lines) for a closer look.
  if (process.env.BENCH_WORKER_LOG) {
    const log = createWriteStream(process.env.BENCH_WORKER_LOG, { flags: 'a' });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
  }
  let output = '';
  const started = new Promise<void>((resolveStarted, reject) => {
    const onData = (chunk: Buffer) => {
      if (output.length < 20_000) output += chunk.toString();
      if (output.split(ready).length > readyCount) resolveStarted();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`worker exited ${code}:\n${output.slice(-2000)}`)));
  });
  await started;
  const ticks = 100; // USER_HZ on Linux
  return {
    child,
    usage() {
      let peakRssMb = 0;
      let cpuSeconds = 0;
      const tree = processTree(child.pid!);
      for (const pid of tree) {
        try {
          const status = readFileSync(`/proc/${pid}/status`, 'utf8');
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
          peakRssMb = Math.max(peakRssMb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
          cpuSeconds += (Number(stat[11]) + Number(stat[12])) / ticks;
        } catch {
          // exited meanwhile
        }
      }
      return { peakRssMb, cpuSeconds, processes: tree.length };
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function serviceEnv(prefix: string, sinkPort: number, database: BenchDatabase, ledger: boolean) {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(sinkPort),
    SMTP_POOL_SIZE: String(POOL_SIZE),
    SMTP_MAX_MESSAGES: String(MAX_MESSAGES),
    WORKER_CONCURRENCY: String(CONCURRENCY),
    FROM_ADDRESS,
    DATABASE_URL: database.url,
    USERS_TABLE: `${database.schema}.users`,
    LEDGER_SCHEMA: database.schema,
    LEDGER_ENABLED: String(ledger),
    MIGRATE_ON_START: 'true',
    // Not measured, and 8004 may be taken by another service on the machine.
    HEALTH_PORT: '0',
    // The workload mails a few hundred addresses thousands of times: the per-address OTP limit (5 in 10 minutes)
    // would refuse most of its OTP emails. The bare pipeline has no such limit either.
    RECIPIENT_LIMITS: 'none',
    // Experiments: BENCH_SERVICE_<NAME>=value sets <NAME> for the service's workers.
    ...Object.fromEntries(
      Object.entries(process.env)
        .filter(([name]) => name.startsWith('BENCH_SERVICE_'))
        .map(([name, value]) => [name.slice('BENCH_SERVICE_'.length), value ?? '']),
    ),
  };
}

const startService = (
  prefix: string,
  sinkPort: number,
  database: BenchDatabase,
  ledger: boolean,
  nodeArgs: string[] = [],
  extra: { args?: string[]; env?: Record<string, string>; ready?: string; readyCount?: number } = {},
) =>
  startProcess(
    [
      ...(args.profile ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles'] : []),
      ...args['worker-node-args'].split(' ').filter(Boolean),
      ...nodeArgs,
      'dist/cli/start-workers.js',
      ...(extra.args ?? []),
    ],
    { ...serviceEnv(prefix, sinkPort, database, ledger), ...extra.env },
    extra.ready,
    extra.readyCount,
  );

/** `start-workers --processes auto`, heap capped as shipped: ready once every process has started its workers. */
const startServiceProcesses = (prefix: string, sinkPort: number, database: BenchDatabase) =>
  startService(prefix, sinkPort, database, true, [HEAP_CAP], {
    args: ['--processes', 'auto'],
    readyCount: availableParallelism(),
  });

/** The Celery bridge beside the workers (`--celery-bridge`), reading the run's Celery queue on the bench's Redis. */
const bridgeEnv = () => ({ CELERY_BROKER_URL: REDIS_URL, CELERY_QUEUES: bridgeQueue() });

/** The heap cap the README suggests for production: V8 otherwise grows the heap lazily under load. */
const HEAP_CAP = '--max-old-space-size=128';

/** One of the service's own emails, rendered once, with two placeholders: the bare pipeline's template. */
async function writeBareTemplates(): Promise<{ html: string; text: string }> {
  const config = loadConfig({ NODE_ENV: 'test', APP_URL: 'https://events.example.com' });
  const templates = loadTemplates({
    dir: config.templatesDir,
    brand: config.brand,
    defaults: config.defaults,
  });
  const email = (await renderSample(tasks.send_booking_confirmation, templates.render, config.defaults))!;
  const placeholders = (s: string) =>
    s.replaceAll('Ada Lovelace', '{{name}}').replaceAll('JSConf EU', '{{event}}');
  const dir = resolve(ROOT, 'var/bench');
  mkdirSync(dir, { recursive: true });
  const files = { html: resolve(dir, 'bare.html.hbs'), text: resolve(dir, 'bare.text.hbs') };
  writeFileSync(files.html, placeholders(email.html));
  writeFileSync(files.text, placeholders(email.text));
  return files;
}

const startBare = async (prefix: string, sinkPort: number) => {
  const files = await writeBareTemplates();
  return startProcess(['--import', 'tsx', 'bench/bare-worker.ts'], {
    BARE_HTML_TEMPLATE: files.html,
    BARE_TEXT_TEMPLATE: files.text,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    SMTP_PORT: String(sinkPort),
    SMTP_POOL_SIZE: String(POOL_SIZE),
    SMTP_MAX_MESSAGES: String(MAX_MESSAGES),
    WORKER_CONCURRENCY: String(CONCURRENCY),
  });
};

// ── Database ──────────────────────────────────────────────────────────────────────────────────────────────
interface BenchDatabase {
  url: string;
  schema: string;
  pool: pg.Pool;
  close(): Promise<void>;
}

async function openBenchDatabase(): Promise<BenchDatabase> {
  let url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  let stop: () => Promise<void> = async () => undefined;
  if (!(await answers(url))) {
    const embedded = await startEmbeddedDatabase({ dir: resolve(ROOT, 'var/bench-pgdata'), port: 54339 });
    url = embedded.url;
    stop = embedded.stop;
  }
  const schema = `bench_${process.pid}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  await seedUsers(pool, schema);
  return {
    url,
    schema,
    pool,
    async close() {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
      await stop();
    },
  };
}

async function clearLedger(database: BenchDatabase) {
  await database.pool.query(
    `DROP TABLE IF EXISTS ${['email_deliveries', 'schema_migrations', 'email_suppressions', 'email_soft_bounces', 'email_webhook_receipts'].map((table) => `${database.schema}.${table}`).join(', ')}`,
  );
}

// ── Steps ─────────────────────────────────────────────────────────────────────────────────────────────────
const requests = (count: number, from = 0): EnqueueRequest[] =>
  Array.from({ length: count }, (_, k) => {
    const task = taskAt(from + k);
    return { name: task as TaskName, payload: payloadFor(task, from + k) as never };
  });

async function enqueueAll(prefix: string, count: number) {
  const client = createEmailClient({ redisUrl: REDIS_URL, prefix, timeoutMs: 10_000 });
  for (let from = 0; from < count; from += 1000)
    await client.enqueueMany(requests(Math.min(1000, count - from), from));
  await client.close();
}

interface Throughput {
  emailsPerSecond: number;
  seconds: number;
  peakRssMb: number;
  cpuSecondsPer1000: number;
}

async function throughput(
  label: string,
  sink: Sink,
  start: (prefix: string) => Promise<WorkerProcess>,
  enqueue: (prefix: string, count: number) => Promise<void> = enqueueAll,
): Promise<Throughput> {
  const prefix = `bench-${label}-${process.pid}`;
  await removePrefix(prefix, REDIS_URL);
  await enqueue(prefix, N);
  sink.reset();
  const worker = await start(prefix);
  const cpuBefore = worker.usage().cpuSeconds;
  await sink.waitFor(N, 600_000);
  const usage = worker.usage();
  await worker.stop();
  await removePrefix(prefix, REDIS_URL);
  const times = sink.accepted.map(([, t]) => t).sort((a, b) => a - b);
  const seconds = (times[N - 1]! - times[0]!) / 1000;
  console.error(`  ${label}: ${N} emails in ${seconds.toFixed(2)} s`);
  return {
    emailsPerSecond: (N - 1) / seconds,
    seconds,
    peakRssMb: usage.peakRssMb,
    cpuSecondsPer1000: ((usage.cpuSeconds - cpuBefore) / N) * 1000,
  };
}

/** The N tasks sent by a Celery producer, then the workers started with the bridge beside them. */
function throughViaBridge(): Promise<Throughput> {
  return throughput(
    'celery-bridge',
    sink,
    (prefix) =>
      startService(prefix, sink.port, database, true, [], { args: ['--celery-bridge'], env: bridgeEnv() }),
    (_prefix, count) => sendCeleryTasks(count, REDIS_URL, bridgeQueue()),
  ).finally(() => removeCeleryQueue(REDIS_URL, bridgeQueue()));
}

/** Celery messages waiting for the bridge (sent by a real Celery producer) → jobs: the bridge alone, no workers. */
async function bridgeAlone(): Promise<{
  messagesPerSecond: number;
  seconds: number;
  cpuSecondsPer1000: number;
}> {
  const prefix = `bench-bridge-alone-${process.pid}`;
  await removePrefix(prefix, REDIS_URL);
  await sendCeleryTasks(N, REDIS_URL, bridgeQueue());
  const queues = ['auth_emails', 'booking_emails', 'waitlist_emails'].map(
    (name) => new Queue(name, { connection: { url: REDIS_URL }, prefix, skipMetasUpdate: true }),
  );
  const bridge = await startProcess(
    ['dist/cli/start-workers.js', 'celery-bridge'],
    // Info, as in production: one line per message bridged is part of the bridge's cost.
    { NODE_ENV: 'production', LOG_LEVEL: 'info', REDIS_URL, QUEUE_PREFIX: prefix, ...bridgeEnv() },
    'celery bridge started',
  );
  const cpuBefore = bridge.usage().cpuSeconds;
  const startedAt = now();
  for (;;) {
    const counts = await Promise.all(queues.map((q) => q.getJobCountByTypes('wait', 'prioritized')));
    if (counts.reduce((a, b) => a + b, 0) >= N) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const seconds = (now() - startedAt) / 1000;
  const cpuSeconds = bridge.usage().cpuSeconds - cpuBefore;
  await bridge.stop();
  await Promise.all(queues.map((q) => q.close()));
  await removePrefix(prefix, REDIS_URL);
  await removeCeleryQueue(REDIS_URL, bridgeQueue());
  console.error(`  celery bridge alone: ${N} messages bridged in ${seconds.toFixed(2)} s`);
  return { messagesPerSecond: N / seconds, seconds, cpuSecondsPer1000: (cpuSeconds / N) * 1000 };
}

interface Latency {
  rate: number;
  offered: number;
  sent: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The harness's own share: how long enqueue calls took, and how late the producer was on its schedule. */
  enqueueP99Ms: number;
  producerLateMaxMs: number;
  maxWaiting: number;
  finalWaiting: number;
}

async function latency(sink: Sink, database: BenchDatabase, rate = RATE): Promise<Latency> {
  const RATE = rate;
  const prefix = `bench-latency-${process.pid}`;
  await removePrefix(prefix, REDIS_URL);
  await clearLedger(database);
  sink.reset();
  // As shipped: the heap capped.
  const worker =
    args['latency-target'] === 'bare'
      ? await startBare(prefix, sink.port)
      : await startService(prefix, sink.port, database, args['latency-ledger'] !== 'false', [HEAP_CAP]);
  const client = createEmailClient({ redisUrl: REDIS_URL, prefix, timeoutMs: 10_000 });
  const queues = ['auth_emails', 'booking_emails', 'waitlist_emails'].map(
    (name) => new Queue(name, { connection: { url: REDIS_URL }, prefix, skipMetasUpdate: true }),
  );
  const enqueuedAt = new Map<string, number>();
  // The first seconds warm up the JIT and open the SMTP pool's connections; only the steady state counts.
  const warmup = RATE * WARMUP_S;
  const total = warmup + RATE * DURATION_S;
  const waiting: number[] = [];
  const sampler = setInterval(async () => {
    const counts = await Promise.all(queues.map((q) => q.getJobCountByTypes('wait', 'prioritized')));
    waiting.push(counts.reduce((a, b) => a + b, 0));
  }, 1000);
  const t0 = now();
  const sends: Promise<unknown>[] = [];
  const addMs: number[] = [];
  let lateMs = 0;
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    lateMs = Math.max(lateMs, now() - due);
    const task = taskAt(i) as BenchTask;
    const key = `lat-${i}`;
    const messageId = messageIdFor(jobIdForKey(task, key), FROM_ADDRESS);
    if (i >= warmup) enqueuedAt.set(messageId, now());
    const startedAt = now();
    sends.push(
      client
        .enqueue(task as TaskName, payloadFor(task, i) as never, { idempotencyKey: key })
        .then(() => addMs.push(now() - startedAt)),
    );
  }
  await Promise.all(sends);
  await sink.waitFor(total, 120_000);
  clearInterval(sampler);
  addMs.sort((a, b) => a - b);
  const latencies = sink.accepted
    .map(([id, t]) => t - (enqueuedAt.get(id) ?? NaN))
    .filter((ms) => Number.isFinite(ms))
    .sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  // BENCH_LATENCY_TRACE=file: each email's acceptance time (ms from the start) and latency, to find the stalls.
  if (process.env.BENCH_LATENCY_TRACE) {
    const trace = sink.accepted
      .filter(([id]) => enqueuedAt.has(id))
      .map(([id, t]) => `${(t - t0).toFixed(1)} ${(t - enqueuedAt.get(id)!).toFixed(1)}`);
    writeFileSync(`${process.env.BENCH_LATENCY_TRACE}.${rate}`, `${trace.join('\n')}\n`);
  }
  await client.close();
  await Promise.all(queues.map((q) => q.close()));
  await worker.stop();
  await removePrefix(prefix, REDIS_URL);
  return {
    rate,
    offered: total - warmup,
    sent: latencies.length,
    p50Ms: at(0.5),
    p95Ms: at(0.95),
    p99Ms: at(0.99),
    maxMs: latencies[latencies.length - 1]!,
    enqueueP99Ms: addMs[Math.floor(addMs.length * 0.99)] ?? NaN,
    producerLateMaxMs: lateMs,
    maxWaiting: Math.max(0, ...waiting),
    finalWaiting: waiting[waiting.length - 1] ?? 0,
  };
}

interface EnqueueRates {
  singlePerSecond: number;
  bulkPerSecond: number;
  /** The typed client with API_CONNECTIONS enqueues in flight. */
  concurrentPerSecond: number;
  /** POST /api/tasks/:name on the monitor, API_CONNECTIONS keep-alive connections. */
  apiPerSecond: number;
  /** The same requests to bench/bare-api.ts: express answering 202 without doing anything. */
  bareApiPerSecond: number;
}

const API_CONNECTIONS = 50;
const API_TOKEN = 'bench-api-token-0123456789';

async function enqueueRates(database: BenchDatabase): Promise<EnqueueRates> {
  const prefix = `bench-enqueue-${process.pid}`;
  await removePrefix(prefix, REDIS_URL);
  const client = createEmailClient({ redisUrl: REDIS_URL, prefix, timeoutMs: 10_000 });
  const single = Math.min(2_000, N);
  let t = now();
  for (const request of requests(single)) await client.enqueue(request.name, request.payload as never);
  const singlePerSecond = single / ((now() - t) / 1000);
  const bulk = N;
  t = now();
  for (let from = 0; from < bulk; from += 500)
    await client.enqueueMany(requests(Math.min(500, bulk - from), from));
  const bulkPerSecond = bulk / ((now() - t) / 1000);
  const concurrent = requests(N);
  t = now();
  await inParallel(API_CONNECTIONS, concurrent.length, (i) =>
    client.enqueue(concurrent[i]!.name, concurrent[i]!.payload as never),
  );
  const concurrentPerSecond = concurrent.length / ((now() - t) / 1000);
  await client.close();
  const apiPerSecond = await apiEnqueueRate(prefix, database, false);
  const bareApiPerSecond = await apiEnqueueRate(prefix, database, true);
  await removePrefix(prefix, REDIS_URL);
  return { singlePerSecond, bulkPerSecond, concurrentPerSecond, apiPerSecond, bareApiPerSecond };
}

/** Runs `task(i)` for i in 0..count-1, `width` at a time. */
async function inParallel(
  width: number,
  count: number,
  task: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/**
 * `start-workers --monitor` in production mode (or the bare express baseline), and N POSTs over API_CONNECTIONS
 * keep-alive connections.
 */
async function apiEnqueueRate(prefix: string, database: BenchDatabase, bare: boolean): Promise<number> {
  const port = await freePort();
  const monitor = bare
    ? await startProcess(['--import', 'tsx', 'bench/bare-api.ts', String(port)], {}, 'bare api listening')
    : await startProcess(
        ['dist/cli/start-workers.js', '--monitor'],
        {
          ...serviceEnv(prefix, 25, database, false),
          MONITOR_PORT: String(port),
          MONITOR_USER: 'bench',
          MONITOR_PASSWORD: 'bench-password',
          API_TOKEN,
        },
        'monitor listening',
      );
  const agent = new http.Agent({ keepAlive: true, maxSockets: API_CONNECTIONS });
  const post = (i: number) => {
    const request = requests(1, i)[0]!;
    const body = JSON.stringify(request.payload);
    return new Promise<void>((resolveRequest, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: `/api/tasks/${request.name}`,
          agent,
          headers: {
            authorization: `Bearer ${API_TOKEN}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (response) => {
          response.resume();
          response.on('end', () =>
            response.statusCode === 202 ? resolveRequest() : reject(new Error(`HTTP ${response.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  };
  try {
    await inParallel(API_CONNECTIONS, 500, post); // warm-up: connections, JIT
    const t = now();
    await inParallel(API_CONNECTIONS, N, (i) => post(i));
    return N / ((now() - t) / 1000);
  } finally {
    agent.destroy();
    await monitor.stop();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolvePort(port));
    });
    server.on('error', reject);
  });
}

// ── Issue 13: processes, tuned Celery, latency under load, the cost of scale ─────────────────────────────────
/** One process and `--processes auto`, both as shipped (heap capped), the bare pipeline and Celery tuned. */
async function processRows(sink: Sink, database: BenchDatabase) {
  console.error(`throughput, N=${N}:`);
  const bare = await throughput('bare', sink, (prefix) => startBare(prefix, sink.port));
  await clearLedger(database);
  const one = await throughput('service', sink, (prefix) =>
    startService(prefix, sink.port, database, true, [HEAP_CAP]),
  );
  await clearLedger(database);
  const auto = await throughput('service-processes-auto', sink, (prefix) =>
    startServiceProcesses(prefix, sink.port, database),
  );
  const celeryTuned =
    !args['no-celery'] && (await celeryAvailable())
      ? await runCelery({
          n: N,
          sink,
          database,
          concurrency: availableParallelism(),
          redisUrl: REDIS_URL,
          tuned: await writeBareTemplates(),
        })
      : undefined;
  return {
    bare,
    one,
    auto,
    celeryTuned,
    ratioOneToBare: one.emailsPerSecond / bare.emailsPerSecond,
    ratioAutoToOne: auto.emailsPerSecond / one.emailsPerSecond,
    ratioAutoToCeleryTuned: celeryTuned ? auto.emailsPerSecond / celeryTuned.emailsPerSecond : undefined,
  };
}

/** Enqueue → 250 at 50 % and 80 % of a measured maximum (one process, ledger on, as shipped). */
async function loadLatency(sink: Sink, database: BenchDatabase, maxRate: number) {
  const at: Record<string, Latency> = {};
  for (const share of [0.5, 0.8]) {
    const rate = Math.max(1, Math.round(maxRate * share));
    console.error(`latency at ${share * 100} % of ${Math.round(maxRate)}/s: ${rate}/s for ${DURATION_S} s`);
    at[`${share * 100}%`] = await latency(sink, database, rate);
  }
  return { maxRate, at };
}

interface CostOfScale {
  redis: RedisCost;
  ledger: LedgerCost;
}

async function costOfScale(database: BenchDatabase): Promise<CostOfScale> {
  console.error(`cost of scale: ${SCALE_JOBS} jobs in Redis, ${SCALE_ROWS} ledger rows`);
  const redis = await redisCost(REDIS_URL, SCALE_JOBS);
  const ledger = await ledgerCost(database.pool, SCALE_ROWS);
  return { redis, ledger };
}

// ── Main ──────────────────────────────────────────────────────────────────────────────────────────────────
const sink = await startSink();
const database = await openBenchDatabase();
if (args['throughput-only']) {
  await clearLedger(database);
  console.log(
    await throughput('service', sink, (prefix) => startService(prefix, sink.port, database, true)).finally(
      () => database.close().then(() => sink.stop()),
    ),
  );
  process.exit(0);
}
if (args['pair-only']) {
  try {
    const ratios: Array<{ service: number; capped: number }> = [];
    for (let round = 0; round < Number(args.rounds); round++) {
      const bare = await throughput('bare', sink, (prefix) => startBare(prefix, sink.port));
      await clearLedger(database);
      const service = await throughput('service', sink, (prefix) =>
        startService(prefix, sink.port, database, true),
      );
      await clearLedger(database);
      const capped = await throughput('service-heap-capped', sink, (prefix) =>
        startService(prefix, sink.port, database, true, [HEAP_CAP]),
      );
      ratios.push({
        service: service.emailsPerSecond / bare.emailsPerSecond,
        capped: capped.emailsPerSecond / bare.emailsPerSecond,
      });
      console.log({ round, bare, service, capped, ratios: ratios.at(-1) });
    }
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
    console.log({
      ratios,
      medianService: median(ratios.map((r) => r.service)),
      medianCapped: median(ratios.map((r) => r.capped)),
    });
  } finally {
    await database.close();
    sink.stop();
  }
  process.exit(0);
}
if (args['bridge-only']) {
  try {
    await clearLedger(database);
    console.log({ viaCeleryBridge: await throughViaBridge(), celeryBridgeAlone: await bridgeAlone() });
  } finally {
    await database.close();
    sink.stop();
  }
  process.exit(0);
}
if (args['enqueue-only']) {
  console.log(await enqueueRates(database).finally(() => database.close().then(() => sink.stop())));
  process.exit(0);
}
if (args['latency-only']) {
  console.log(await latency(sink, database).finally(() => database.close().then(() => sink.stop())));
  process.exit(0);
}
if (args['scale-only']) {
  console.log(
    JSON.stringify(
      await costOfScale(database).finally(() => database.close().then(() => sink.stop())),
      null,
      2,
    ),
  );
  process.exit(0);
}
if (args['processes-only']) {
  try {
    const rows = await processRows(sink, database);
    console.log(JSON.stringify(rows, null, 2));
  } finally {
    await database.close();
    sink.stop();
  }
  process.exit(0);
}
if (args['load-latency-only']) {
  try {
    await clearLedger(database);
    const max = args['max-rate']
      ? Number(args['max-rate'])
      : (
          await throughput('service', sink, (prefix) =>
            startService(prefix, sink.port, database, true, [HEAP_CAP]),
          )
        ).emailsPerSecond;
    console.log(JSON.stringify(await loadLatency(sink, database, max), null, 2));
  } finally {
    await database.close();
    sink.stop();
  }
  process.exit(0);
}
try {
  console.error(`throughput, N=${N}:`);
  const bare = await throughput('bare', sink, (prefix) => startBare(prefix, sink.port));
  await clearLedger(database);
  const ledgerOn = await throughput('service', sink, (prefix) =>
    startService(prefix, sink.port, database, true),
  );
  const ledgerOff = await throughput('service-no-ledger', sink, (prefix) =>
    startService(prefix, sink.port, database, false),
  );
  await clearLedger(database);
  const capped = await throughput('service-heap-capped', sink, (prefix) =>
    startService(prefix, sink.port, database, true, [HEAP_CAP]),
  );
  const withBridge = !args['no-bridge'] && (await celeryProducerAvailable());
  await clearLedger(database);
  const viaBridge = withBridge ? await throughViaBridge() : undefined;
  const bridged = withBridge ? await bridgeAlone() : undefined;
  const celery =
    !args['no-celery'] && (await celeryAvailable())
      ? await runCelery({ n: N, sink, database, concurrency: CONCURRENCY, redisUrl: REDIS_URL })
      : undefined;
  await clearLedger(database);
  const auto = await throughput('service-processes-auto', sink, (prefix) =>
    startServiceProcesses(prefix, sink.port, database),
  );
  const celeryTuned =
    !args['no-celery'] && (await celeryAvailable())
      ? await runCelery({
          n: N,
          sink,
          database,
          concurrency: availableParallelism(),
          redisUrl: REDIS_URL,
          tuned: await writeBareTemplates(),
        })
      : undefined;
  console.error(`latency, ${RATE}/s for ${DURATION_S} s:`);
  const lat = await latency(sink, database);
  const loaded = await loadLatency(sink, database, capped.emailsPerSecond);
  const scale = args['no-scale'] ? undefined : await costOfScale(database);
  console.error('enqueue:');
  const enqueue = await enqueueRates(database);

  const results = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    settings: {
      n: N,
      rate: RATE,
      durationS: DURATION_S,
      warmupS: WARMUP_S,
      concurrencyPerQueue: CONCURRENCY,
      smtpPoolSize: POOL_SIZE,
      smtpMaxMessages: MAX_MESSAGES,
    },
    throughput: {
      bare,
      service: ledgerOn,
      serviceWithoutLedger: ledgerOff,
      serviceHeapCapped: capped,
      serviceProcessesAuto: auto,
      viaCeleryBridge: viaBridge,
      celery,
      celeryTuned,
      ratioOneProcessToBare: capped.emailsPerSecond / bare.emailsPerSecond,
      ratioAutoToOneProcess: auto.emailsPerSecond / capped.emailsPerSecond,
      ratioAutoToCeleryTuned: celeryTuned ? auto.emailsPerSecond / celeryTuned.emailsPerSecond : undefined,
      ratioServiceToBare: ledgerOn.emailsPerSecond / bare.emailsPerSecond,
      ratioServiceWithoutLedgerToBare: ledgerOff.emailsPerSecond / bare.emailsPerSecond,
      ratioServiceToCelery: celery
        ? ledgerOn.emailsPerSecond / (celery as Throughput).emailsPerSecond
        : undefined,
    },
    latency: lat,
    loadLatency: loaded,
    scale,
    enqueue,
    celeryBridgeAlone: bridged,
  };
  mkdirSync(dirname(resolve(ROOT, args.out)), { recursive: true });
  writeFileSync(resolve(ROOT, args.out), `${JSON.stringify(results, null, 2)}\n`);
  console.log(table(results));
} finally {
  await database.close();
  sink.stop();
}

function table(r: {
  throughput: Record<string, unknown> & {
    bare: Throughput;
    service: Throughput;
    serviceWithoutLedger: Throughput;
    serviceHeapCapped: Throughput;
    serviceProcessesAuto: Throughput;
    viaCeleryBridge?: Throughput;
    celery?: Throughput;
    celeryTuned?: Throughput;
  };
  loadLatency: { maxRate: number; at: Record<string, Latency> };
  scale?: CostOfScale;
  celeryBridgeAlone?: { messagesPerSecond: number; seconds: number; cpuSecondsPer1000: number };
  latency: Latency;
  enqueue: EnqueueRates;
  settings: { n: number; rate: number; durationS: number; warmupS: number };
}): string {
  const f = (x: number, d = 0) => x.toFixed(d);
  const row = (label: string, t: Throughput | undefined, ratio: string) =>
    t
      ? `| ${label} | ${f(t.emailsPerSecond)} | ${ratio} | ${f(t.peakRssMb)} | ${f(t.cpuSecondsPer1000, 2)} |`
      : '';
  const th = r.throughput;
  return [
    `Throughput (N = ${r.settings.n}, emails/s from the first SMTP transaction to the last)`,
    '',
    '| pipeline | emails/s | × bare | peak RSS (MB) | CPU s / 1,000 emails |',
    '|---|---|---|---|---|',
    row('bare BullMQ + Handlebars + nodemailer', th.bare, '1.00'),
    row('email-workers, ledger on', th.service, f(th.service.emailsPerSecond / th.bare.emailsPerSecond, 2)),
    row(
      `email-workers, ledger on, ${HEAP_CAP}`,
      th.serviceHeapCapped,
      f(th.serviceHeapCapped.emailsPerSecond / th.bare.emailsPerSecond, 2),
    ),
    row(
      'email-workers, ledger off',
      th.serviceWithoutLedger,
      f(th.serviceWithoutLedger.emailsPerSecond / th.bare.emailsPerSecond, 2),
    ),
    row(
      'Celery send_task → bridge → email-workers (--celery-bridge, ledger on)',
      th.viaCeleryBridge,
      th.viaCeleryBridge ? f(th.viaCeleryBridge.emailsPerSecond / th.bare.emailsPerSecond, 2) : '',
    ),
    row(
      'Celery 5 (the old service’s shape)',
      th.celery,
      th.celery ? f(th.celery.emailsPerSecond / th.bare.emailsPerSecond, 2) : '',
    ),
    row(
      `email-workers --processes auto (${availableParallelism()}), ${HEAP_CAP}`,
      th.serviceProcessesAuto,
      f(th.serviceProcessesAuto.emailsPerSecond / th.bare.emailsPerSecond, 2),
    ),
    row(
      `Celery 5 tuned (prefork ${availableParallelism()}, prefetch 16, the same email bytes)`,
      th.celeryTuned,
      th.celeryTuned ? f(th.celeryTuned.emailsPerSecond / th.bare.emailsPerSecond, 2) : '',
    ),
    '',
    `--processes auto × one process (capped): ${f(th.serviceProcessesAuto.emailsPerSecond / th.serviceHeapCapped.emailsPerSecond, 2)}` +
      (th.celeryTuned
        ? `; × Celery tuned: ${f(th.serviceProcessesAuto.emailsPerSecond / th.celeryTuned.emailsPerSecond, 2)}`
        : ''),
    '',
    r.celeryBridgeAlone
      ? `Celery bridge alone (no workers): ${f(r.celeryBridgeAlone.messagesPerSecond)} messages/s bridged, ` +
        `${f(r.celeryBridgeAlone.cpuSecondsPer1000, 2)} CPU s / 1,000 messages`
      : '',
    '',
    `Latency, enqueue → 250, ${r.settings.rate} emails/s for ${r.settings.durationS} s after a ${r.settings.warmupS} s warm-up (ledger on)`,
    '',
    '| p50 ms | p95 ms | p99 ms | max ms | sent / offered | waiting: max, end | enqueue call p99 ms | producer late, max ms |',
    '|---|---|---|---|---|---|---|---|',
    `| ${f(r.latency.p50Ms, 1)} | ${f(r.latency.p95Ms, 1)} | ${f(r.latency.p99Ms, 1)} | ${f(r.latency.maxMs, 1)} | ${r.latency.sent} / ${r.latency.offered} | ${r.latency.maxWaiting}, ${r.latency.finalWaiting} | ${f(r.latency.enqueueP99Ms, 1)} | ${f(r.latency.producerLateMaxMs, 1)} |`,
    '',
    `Latency under load, enqueue → 250, one process (ledger on, capped), of a maximum of ${f(r.loadLatency.maxRate)} emails/s`,
    '',
    '| load | emails/s | p50 ms | p95 ms | p99 ms | max ms | sent / offered | waiting: max, end |',
    '|---|---|---|---|---|---|---|---|',
    ...Object.entries(r.loadLatency.at).map(
      ([share, l]) =>
        `| ${share} | ${l.rate} | ${f(l.p50Ms, 1)} | ${f(l.p95Ms, 1)} | ${f(l.p99Ms, 1)} | ${f(l.maxMs, 1)} | ${l.sent} / ${l.offered} | ${l.maxWaiting}, ${l.finalWaiting} |`,
    ),
    '',
    ...(r.scale ? scaleLines(r.scale) : []),
    '',
    `Enqueue (tasks/s): the typed client (@email-workers/client), and POST /api/tasks/:name over ${API_CONNECTIONS} keep-alive connections`,
    '',
    `| client, one at a time | client, bulk (500 a call) | client, ${API_CONNECTIONS} in flight | HTTP API, ${API_CONNECTIONS} connections | bare express, same requests | API × bare |`,
    '|---|---|---|---|---|---|',
    `| ${f(r.enqueue.singlePerSecond)} | ${f(r.enqueue.bulkPerSecond)} | ${f(r.enqueue.concurrentPerSecond)} | ${f(r.enqueue.apiPerSecond)} | ${f(r.enqueue.bareApiPerSecond)} | ${f(r.enqueue.apiPerSecond / r.enqueue.bareApiPerSecond, 2)} |`,
  ]
    .filter((line, i, all) => line !== '' || all[i - 1] !== '')
    .join('\n');
}

function scaleLines({ redis, ledger }: CostOfScale): string[] {
  const f = (x: number, d = 0) => x.toFixed(d);
  return [
    `Cost of scale: Redis (${redis.jobs} jobs; Σ MEMORY USAGE of the run's keys, INFO used_memory delta in brackets)`,
    '',
    '| bytes per waiting job | bytes per retained completed job | bytes per event | retention defaults cap Redis at |',
    '|---|---|---|---|',
    `| ${f(redis.waitingBytesPerJob)} (${f(redis.waitingBytesPerJobInfo)}) | ${f(redis.completedBytesPerJob)} (${f(redis.completedBytesPerJobInfo)}) | ${f(redis.eventBytesPerEntry)} | ${f(redis.retentionCapMb, 1)} MB |`,
    '',
    `Ledger at ${ledger.rows} rows: ${f(ledger.bytesPerRow)} bytes per row with its indexes; table ${f(ledger.tableMb, 1)} MB, ` +
      `indexes ${Object.entries(ledger.indexesMb)
        .map(([name, mb]) => `${name} ${f(mb, 1)} MB`)
        .join(', ')}; total ${f(ledger.totalMb, 1)} MB`,
    '',
    '| claim latency | p50 ms | p99 ms | mean ms |',
    '|---|---|---|---|',
    `| empty table | ${f(ledger.claimEmpty.p50Ms, 2)} | ${f(ledger.claimEmpty.p99Ms, 2)} | ${f(ledger.claimEmpty.meanMs, 2)} |`,
    `| ${ledger.rows} rows | ${f(ledger.claimFull.p50Ms, 2)} | ${f(ledger.claimFull.p99Ms, 2)} | ${f(ledger.claimFull.meanMs, 2)} |`,
    `| ratio | ${f(ledger.claimFull.p50Ms / ledger.claimEmpty.p50Ms, 2)} | ${f(ledger.claimFull.p99Ms / ledger.claimEmpty.p99Ms, 2)} | ${f(ledger.claimFull.meanMs / ledger.claimEmpty.meanMs, 2)} |`,
  ];
}
