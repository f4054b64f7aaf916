/**
 * `start-workers --processes N` (WORKER_PROCESSES): N worker processes under this one, so one command uses every
 * core (a Node process runs its JavaScript on one). Each is the same `start-workers` with `--supervised`, in a
 * process group of its own (a terminal's Ctrl-C reaches only the supervisor, which passes it on once).
 *
 * - A process that exits unasked is started again after a backoff (1 s, doubling, at most 30 s); one that crashes
 *   CRASH_LOOP times in a row, each time within SHORT_RUN_MS of its start, is a crash loop: the others are stopped
 *   and start-workers exits 1 saying so.
 * - SIGTERM or SIGINT goes to every process; start-workers exits once all have (0 when all stopped cleanly), at the
 *   latest SHUTDOWN_TIMEOUT_MS + 3 s later. A second signal is passed on and exits at once.
 * - One HEALTH_PORT for all: `/health` lists the processes, `/health/ready` is ready when every process is, and
 *   `/metrics` sums the processes' metrics (prom-client's AggregatorRegistry) plus the supervisor's own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { Config } from '../config.js';
import { CrashLoopError } from '../errors.js';
import type { Logger } from '../logger.js';
import { startHealthServer } from '../queues/health-server.js';
import type { Readiness } from '../queues/readiness.js';
import {
  isSupervisorReply,
  type SupervisorReply,
  type SupervisorRequest,
} from '../queues/supervisor-messages.js';
import type { StopSignals } from './stop-signals.js';

/** Crashes in a row, each soon after the start, that make a crash loop. */
export const CRASH_LOOP = 5;
/** A process that ran this long before it crashed starts a new count. */
export const SHORT_RUN_MS = 60_000;
const BACKOFF_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
/** How long a process may take to answer a health or metrics request. */
const ASK_TIMEOUT_MS = 5_000;
/** Beyond SHUTDOWN_TIMEOUT_MS: a process exits within it + 2 s; a moment more for the exit to be seen. */
const STOP_MARGIN_MS = 3_000;

export interface SupervisorOptions {
  processes: number;
  /** The command line for each process (without `--processes`). */
  args: readonly string[];
}

interface Slot {
  index: number;
  child: ChildProcess | undefined;
  startedAt: number;
  /** Crashes in a row, each within SHORT_RUN_MS of its start. */
  crashes: number;
  restarts: number;
  restartTimer: NodeJS.Timeout | undefined;
  lastExit: string;
}

export async function superviseWorkers(
  config: Config,
  logger: Logger,
  stops: StopSignals,
  options: SupervisorOptions,
): Promise<number> {
  const slots: Slot[] = Array.from({ length: options.processes }, (_, index) => ({
    index,
    child: undefined,
    startedAt: 0,
    crashes: 0,
    restarts: 0,
    restartTimer: undefined,
    lastExit: '',
  }));
  const own = new Registry();
  const restartsTotal = new Counter({
    name: 'email_worker_process_restarts_total',
    help: 'Worker processes started again by the supervisor after they exited unasked',
    registers: [own],
  });
  new Gauge({
    name: 'email_worker_processes',
    help: 'Worker processes running under the supervisor',
    registers: [own],
    collect() {
      this.set(slots.filter((slot) => slot.child).length);
    },
  });

  let stopping = false;
  let failure: CrashLoopError | undefined;
  let cleanStops = true;
  let allExited!: () => void;
  const exited = new Promise<void>((resolve) => (allExited = resolve));
  const checkAllExited = () => {
    if (stopping && slots.every((slot) => !slot.child)) allExited();
  };

  const start = (slot: Slot) => {
    slot.restartTimer = undefined;
    const child = fork(process.argv[1]!, [...options.args, '--supervised'], { detached: true });
    slot.child = child;
    slot.startedAt = Date.now();
    logger.info({ process: slot.index, pid: child.pid }, 'worker process started');
    child.on('message', (message) => {
      if (isSupervisorReply(message)) pending.get(message.id)?.(message);
    });
    child.on('exit', (code, signal) => {
      slot.child = undefined;
      slot.lastExit = signal ? `killed by ${signal}` : `exit code ${code}`;
      if (stopping) {
        if (code !== 0) cleanStops = false;
        logger.info({ process: slot.index, pid: child.pid, code, signal }, 'worker process stopped');
        checkAllExited();
        return;
      }
      slot.crashes = Date.now() - slot.startedAt < SHORT_RUN_MS ? slot.crashes + 1 : 1;
      if (slot.crashes >= CRASH_LOOP) {
        failure = new CrashLoopError(
          `worker process ${slot.index} crashed ${slot.crashes} times in a row, each within ` +
            `${SHORT_RUN_MS / 1000} s of its start (last: ${slot.lastExit}); giving up — its log lines above say why`,
        );
        logger.error({ process: slot.index, pid: child.pid, code, signal }, failure.message);
        stop('SIGTERM');
        return;
      }
      const delayMs = Math.min(BACKOFF_MAX_MS, BACKOFF_MS * 2 ** (slot.crashes - 1));
      logger.warn(
        { process: slot.index, pid: child.pid, code, signal, restartInMs: delayMs },
        'worker process exited unasked: starting it again',
      );
      slot.restarts++;
      restartsTotal.inc();
      slot.restartTimer = setTimeout(() => start(slot), delayMs);
    });
  };

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    for (const slot of slots) {
      clearTimeout(slot.restartTimer);
      slot.child?.kill(signal);
    }
    // The last resort, should a process not stop: each exits within SHUTDOWN_TIMEOUT_MS + 2 s by itself.
    setTimeout(() => {
      logger.error('worker processes did not stop in time: killing them');
      for (const slot of slots) slot.child?.kill('SIGKILL');
      cleanStops = false;
    }, config.worker.shutdownTimeoutMs + STOP_MARGIN_MS).unref();
    checkAllExited();
  };

  // Requests to the processes over IPC, answered by src/queues/supervised.ts.
  let nextId = 0;
  const pending = new Map<number, (reply: SupervisorReply) => void>();
  const ask = (slot: Slot, type: SupervisorRequest['type']) =>
    new Promise<SupervisorReply | undefined>((resolve) => {
      const child = slot.child;
      if (!child?.connected) return resolve(undefined);
      const id = ++nextId;
      const timer = setTimeout(() => done(undefined), ASK_TIMEOUT_MS);
      const done = (reply: SupervisorReply | undefined) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(reply);
      };
      pending.set(id, done);
      child.send({ type, id } satisfies SupervisorRequest, (error) => error && done(undefined));
    });

  const readiness = async (): Promise<Readiness> => {
    const replies = await Promise.all(slots.map((slot) => ask(slot, 'email-workers:ready')));
    const components: Readiness['components'] = {};
    replies.forEach((reply, index) => {
      if (!reply?.readiness) {
        components[`process ${index}`] = { ok: false, error: 'not running or not answering' };
        return;
      }
      for (const [name, status] of Object.entries(reply.readiness.components)) {
        components[`process ${index}: ${name}`] = status;
      }
    });
    return { ready: Object.values(components).every((status) => status.ok), components };
  };
  const metrics = async (): Promise<string> => {
    const replies = await Promise.all(slots.map((slot) => ask(slot, 'email-workers:metrics')));
    const gathered = replies.flatMap((reply) => (reply?.metrics ? [reply.metrics] : []));
    const aggregated = AggregatorRegistry.aggregate([
      ...(gathered as Parameters<typeof AggregatorRegistry.aggregate>[0]),
      await own.getMetricsAsJSON(),
    ]);
    return aggregated.metrics();
  };

  const health =
    config.health.port > 0
      ? await startHealthServer({
          port: config.health.port,
          probes: [],
          registry: own,
          gathered: {
            readiness,
            metrics,
            liveness: () => ({
              processes: slots.map((slot) => ({
                process: slot.index,
                pid: slot.child?.pid ?? null,
                running: slot.child !== undefined,
                restarts: slot.restarts,
              })),
            }),
          },
        })
      : undefined;
  if (health) logger.info({ port: health.port }, 'health and metrics served for all worker processes');

  stops.onRepeat((signal) => {
    logger.warn({ signal }, 'second signal: exiting at once');
    for (const slot of slots) slot.child?.kill(signal);
    logger.flush();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
  const onStop = () => {
    logger.info(
      { signal: stops.signal.reason as string, processes: options.processes },
      'shutting down: stopping every worker process',
    );
    stop('SIGTERM');
  };
  if (stops.signal.aborted) {
    await health?.close();
    return 0;
  }
  stops.signal.addEventListener('abort', onStop, { once: true });
  logger.info({ processes: options.processes }, 'starting worker processes');
  for (const slot of slots) start(slot);

  await exited;
  await health?.close();
  if (failure) throw failure;
  logger.info('stopped');
  logger.flush();
  return cleanStops ? 0 : 1;
}
