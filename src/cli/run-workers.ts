/** `start-workers` with no command: the workers, until SIGTERM or SIGINT. */
import { parseArgs } from 'node:util';
import { loadConfig, workerProcesses } from '../config.js';
import { createLogger } from '../logger.js';
import { QUEUE_NAMES, type QueueName } from '../tasks/define-task.js';
import { positiveInteger } from './positive-integer.js';
import { catchStopSignals } from './stop-signals.js';
import { UsageError } from './usage-error.js';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      queues: { type: 'string' },
      concurrency: { type: 'string' },
      name: { type: 'string' },
      monitor: { type: 'boolean', default: false },
      'celery-bridge': { type: 'boolean', default: false },
      processes: { type: 'string' },
      // Internal: a worker process started by the supervisor (supervisor.ts).
      supervised: { type: 'boolean', default: false },
    },
    strict: true,
  });
  // The monitor is a process of its own; only its command loads express and Bull Board.
  if (values.monitor) return (await import('./monitor.js')).run(argv);
  const queues = parseQueues(values.queues);
  const concurrency = positiveInteger('--concurrency', values.concurrency, 1000);

  const processes =
    values.processes === undefined ? undefined : workerProcessesOption(values.processes, values.supervised);

  const config = loadConfig();
  const root = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY === true });
  // Under a supervisor, several processes write to one output: each line says which.
  const logger = values.supervised ? root.child({ pid: process.pid }) : root;
  // Caught since the process began (start-workers.ts): a stop request also ends a start-up still waiting for Redis
  // or PostgreSQL.
  const stops = catchStopSignals();
  if (!values.supervised && (processes ?? config.worker.processes) > 1) {
    const { superviseWorkers } = await import('./supervisor.js');
    return superviseWorkers(config, logger, stops, {
      processes: processes ?? config.worker.processes,
      args: withoutOption(argv, '--processes'),
    });
  }
  // The supervisor's end (its IPC channel closes, even by SIGKILL) stops this process as SIGTERM would.
  if (values.supervised) process.on('disconnect', () => stops.requestStop('SIGTERM'));
  const { startWorkers } = await import('../queues/start-workers.js');

  stops.onRepeat((signal) => {
    logger.warn({ signal }, 'second signal: exiting at once');
    logger.flush();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
  const stoppedOnce = new Promise<void>((resolve) => {
    const onStop = () => {
      logger.info({ signal: stops.signal.reason as string }, 'shutting down: finishing jobs in flight');
      // The last resort, should shutdown itself hang: it is bounded to SHUTDOWN_TIMEOUT_MS + 1.5 s.
      setTimeout(() => {
        logger.error('shutdown did not finish in time: exiting');
        logger.flush();
        process.exit(1);
      }, config.worker.shutdownTimeoutMs + 2_000).unref();
      resolve();
    };
    if (stops.signal.aborted) onStop();
    else stops.signal.addEventListener('abort', onStop, { once: true });
  });

  let running;
  try {
    running = await startWorkers(config, logger, {
      queues,
      concurrency,
      name: values.name,
      signal: stops.signal,
      supervised: values.supervised,
    });
  } catch (error) {
    if (stops.signal.aborted) {
      logger.info('stopped before start-up finished');
      logger.flush();
      return 0;
    }
    throw error;
  }
  // Beside the workers, in the same process: the Celery producers' messages become jobs here too.
  let bridge;
  try {
    bridge = values['celery-bridge']
      ? await (await import('../bridges/celery-bridge.js')).startCeleryBridge(config, logger)
      : undefined;
  } catch (error) {
    await running.close();
    throw error;
  }
  await stoppedOnce;
  // The bridge first: it stops feeding the queues before the workers drain them.
  await bridge?.close();
  await running.close();
  logger.info('stopped');
  logger.flush();
  return 0;
}

/** `--processes N|auto`; the supervisor's own processes are one each. */
function workerProcessesOption(text: string, supervised: boolean): number {
  if (supervised) return 1;
  if (text !== 'auto' && !/^([1-9]|[1-5][0-9]|6[0-4])$/.test(text)) {
    throw new UsageError(`--processes: expected auto or an integer from 1 to 64, got "${text}"`);
  }
  return workerProcesses(text);
}

/** argv without `--processes N` / `--processes=N`. */
function withoutOption(argv: readonly string[], name: string): string[] {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) i++;
    else if (!argv[i]!.startsWith(`${name}=`)) rest.push(argv[i]!);
  }
  return rest;
}

function parseQueues(text: string | undefined): QueueName[] | undefined {
  if (text === undefined) return undefined;
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !(QUEUE_NAMES as readonly string[]).includes(name));
  if (unknown.length || names.length === 0) {
    throw new UsageError(
      `--queues: unknown queue ${unknown.join(', ') || '(none)'}; known: ${QUEUE_NAMES.join(', ')}`,
    );
  }
  return names as QueueName[];
}
