/**
 * The service email-workers replaces, measured on the same traffic: a Celery 5 worker shaped like the old Python
 * email service (bench/celery/: Redis broker, acks_late, prefetch 1, prefork pool, psycopg2 lookups, Jinja2
 * templates, one smtplib connection per process). Uses Debian's packages with /usr/bin/python3, never pip:
 *
 *   apt-get install -y python3-celery python3-redis python3-jinja2 python3-psycopg2
 *
 * `celeryAvailable()` only checks that they import; `runCelery()` enqueues the N tasks of bench/workload.ts with
 * a Python producer, then starts the worker and measures it like `throughput()` in bench/run.ts.
 *
 * The broker is Redis database BENCH_CELERY_REDIS_DB (7) of the bench's Redis. Celery's queues there carry the old
 * names (auth_emails, …), so a lock key keeps two benchmark runs apart, and only the keys kombu makes are deleted.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { QUEUE_OF, payloadFor, taskAt } from './workload.js';

const PYTHON = '/usr/bin/python3';
const CELERY_DIR = resolve(import.meta.dirname, 'celery');
const QUEUES = ['auth_emails', 'booking_emails', 'waitlist_emails'];
const REDIS_DB = Number(process.env.BENCH_CELERY_REDIS_DB ?? 7);
const LOCK_KEY = 'email-workers:bench:celery:lock';
const FROM_ADDRESS = 'bench@events.example.com';
const TICKS = 100; // USER_HZ on Linux

export interface CeleryOptions {
  n: number;
  sink: {
    port: number;
    accepted: Array<[string, number]>;
    reset(): void;
    waitFor(count: number, timeoutMs: number): Promise<void>;
  };
  database: { url: string; schema: string };
  /** Prefork processes in all (ours runs this many jobs at once per queue, in one process). */
  concurrency: number;
  redisUrl: string;
  /**
   * The tuned row: prefork with one process per core (`concurrency`), prefetch 16, and the service's own email
   * rendered once (the bare pipeline's files) instead of Jinja2 templates.
   */
  tuned?: { html: string; text: string };
}

export interface Throughput {
  emailsPerSecond: number;
  seconds: number;
  peakRssMb: number;
  cpuSecondsPer1000: number;
}

/** True when Debian's python3-celery, -redis, -jinja2 and -psycopg2 import. Installs nothing. */
export function celeryAvailable(): Promise<boolean> {
  return new Promise((done) =>
    execFile(
      PYTHON,
      ['-c', 'import celery, redis, jinja2, psycopg2'],
      { env: pythonEnv({}), timeout: 30_000 },
      (error) => done(!error),
    ),
  );
}

/** The Celery row of the throughput table, or undefined (with a line on stderr) when it could not run. */
export async function runCelery(options: CeleryOptions): Promise<Throughput | undefined> {
  const brokerUrl = new URL(options.redisUrl);
  brokerUrl.pathname = `/${REDIS_DB}`;
  const redis = new Redis(brokerUrl.toString(), { maxRetriesPerRequest: 2 });
  let worker: ChildProcess | undefined;
  try {
    if (!(await lock(redis))) {
      console.error(`  celery: skipped, Redis db ${REDIS_DB} is in use by another run (${LOCK_KEY})`);
      return undefined;
    }
    await removeKombuKeys(redis); // left over from a run that was killed
    await enqueue(options.n, brokerUrl.toString());
    options.sink.reset();
    worker = startWorker(options, brokerUrl.toString());
    await ready(worker, 60_000);
    const cpuBefore = treeUsage(worker.pid!).cpuSeconds;
    await Promise.race([options.sink.waitFor(options.n, 600_000), exited(worker)]);
    const usage = treeUsage(worker.pid!);
    await stop(worker);
    const times = options.sink.accepted.map(([, t]) => t).sort((a, b) => a - b);
    const seconds = (times[options.n - 1]! - times[0]!) / 1000;
    console.error(
      `  celery${options.tuned ? ' (tuned)' : ''}: ${options.n} emails in ${seconds.toFixed(2)} s (${options.concurrency} prefork processes; ` +
        `peak RSS summed over ${usage.processes} processes ${usage.peakRssMb.toFixed(0)} MB, ` +
        `PSS at the end ${usage.pssMb.toFixed(0)} MB)`,
    );
    return {
      emailsPerSecond: (options.n - 1) / seconds,
      seconds,
      peakRssMb: usage.peakRssMb,
      cpuSecondsPer1000: ((usage.cpuSeconds - cpuBefore) / options.n) * 1000,
    };
  } catch (error) {
    console.error(`  celery: failed, no row: ${(error as Error).message}`);
    return undefined;
  } finally {
    if (worker) await stop(worker);
    if ((await redis.get(LOCK_KEY).catch(() => null)) === String(process.pid)) {
      await removeKombuKeys(redis);
      await redis.del(LOCK_KEY);
    }
    redis.disconnect();
  }
}

// ── Python processes ───────────────────────────────────────────────────────────────────────────────────────
function pythonEnv(extra: Record<string, string>): Record<string, string> {
  return {
    PATH: '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    PYTHONPATH: CELERY_DIR,
    PYTHONDONTWRITEBYTECODE: '1',
    ...extra,
  };
}

/** The same N tasks as ours, as the old producers sent them: `task_data` for OTP and welcome, else the kwargs. */
async function enqueue(n: number, brokerUrl: string): Promise<void> {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const task = taskAt(i);
    const payload = payloadFor(task, i);
    const kwargs = 'user_id' in payload ? payload : { task_data: payload };
    lines.push(JSON.stringify({ task, queue: QUEUE_OF[task], kwargs }));
  }
  const child = spawn(PYTHON, [resolve(CELERY_DIR, 'enqueue.py')], {
    cwd: CELERY_DIR,
    env: pythonEnv({ CELERY_BROKER_URL: brokerUrl }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdin!.end(`${lines.join('\n')}\n`);
  const code = await new Promise<number | null>((done) => child.on('close', done));
  if (code !== 0 || Number(output.trim()) !== n)
    throw new Error(`enqueue.py exited ${code}: ${output.slice(-2000)}`);
}

function startWorker(options: CeleryOptions, brokerUrl: string): ChildProcess {
  const args = ['-m', 'celery', '-A', 'email_workers.celery_app', 'worker', '-Q', QUEUES.join(',')];
  return spawn(PYTHON, [...args, '-P', 'prefork', '-c', String(options.concurrency), '--loglevel=WARNING'], {
    cwd: CELERY_DIR,
    env: pythonEnv({
      ...(options.tuned
        ? {
            CELERY_PREFETCH_MULTIPLIER: '16',
            FROZEN_HTML: options.tuned.html,
            FROZEN_TEXT: options.tuned.text,
          }
        : {}),
      CELERY_BROKER_URL: brokerUrl,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(options.sink.port),
      FROM_ADDRESS,
      DATABASE_URL: options.database.url,
      USERS_TABLE: `${options.database.schema}.users`,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Resolves on the "celery worker ready" line that celery_app.py prints; rejects if the worker exits first. */
function ready(child: ChildProcess, timeoutMs: number): Promise<void> {
  let output = '';
  return new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`celery worker not ready after ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      if (output.length < 20_000) output += chunk.toString();
      if (output.includes('celery worker ready')) {
        clearTimeout(timer);
        resolveReady();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`celery worker exited ${code}:\n${output.slice(-2000)}`));
    });
  });
}

function exited(child: ChildProcess): Promise<never> {
  return new Promise((_, reject) =>
    child.once('exit', (code) => reject(new Error(`celery worker exited ${code} before the last email`))),
  );
}

/** SIGTERM (Celery's warm shutdown), SIGKILL to the whole tree after 15 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const tree = processTree(child.pid!);
  const gone = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const pid of tree)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
  }, 15_000);
  await gone;
  clearTimeout(timer);
}

// ── /proc ──────────────────────────────────────────────────────────────────────────────────────────────────
/** The pid and all its descendants. */
export function processTree(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++)
    for (const [pid, parent] of parentOf) if (parent === tree[i]) tree.push(pid);
  return tree;
}

/**
 * Over the worker's tree: VmHWM summed (counts pages shared by the prefork children once per process, so it
 * overstates memory; PSS, current only, is reported beside it), and CPU as utime + stime + the reaped children's.
 */
function treeUsage(root: number) {
  let peakRssKb = 0;
  let pssKb = 0;
  let ticks = 0;
  const tree = processTree(root);
  for (const pid of tree) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      peakRssKb += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      pssKb += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return {
    peakRssMb: peakRssKb / 1024,
    pssMb: pssKb / 1024,
    cpuSeconds: ticks / TICKS,
    processes: tree.length,
  };
}

// ── Redis ──────────────────────────────────────────────────────────────────────────────────────────────────
/** Takes the broker database for this run; a lock left by a benchmark process that no longer lives is taken over. */
async function lock(redis: Redis): Promise<boolean> {
  if ((await redis.set(LOCK_KEY, String(process.pid), 'EX', 3600, 'NX')) === 'OK') return true;
  const holder = Number(await redis.get(LOCK_KEY));
  try {
    process.kill(holder, 0);
    return false;
  } catch {
    await redis.set(LOCK_KEY, String(process.pid), 'EX', 3600);
    return true;
  }
}

/**
 * What kombu's Redis transport keeps in the broker database: one list per queue (and per priority step, named
 * `<queue>\x06\x16<n>`), the `_kombu.binding.*` sets, and the unacked hash of acks_late messages.
 */
async function removeKombuKeys(redis: Redis): Promise<void> {
  const keys = [...QUEUES, 'unacked', 'unacked_index', 'unacked_mutex'];
  for (const queue of QUEUES) for (const step of [3, 6, 9]) keys.push(`${queue}\x06\x16${step}`);
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', '_kombu.binding.*', 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  await redis.del(...keys);
}
