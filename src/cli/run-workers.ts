/** `start-workers` with no command: the workers, until SIGTERM or SIGINT. */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { QUEUE_NAMES, type QueueName } from '../tasks/define-task.js';
import { positiveInteger } from './positive-integer.js';
import { untilSignal } from './until-signal.js';
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
    },
    strict: true,
  });
  if (values.monitor) {
    process.stderr.write('start-workers: --monitor (Bull Board and the task API) is not available yet\n');
    return 2;
  }
  const queues = parseQueues(values.queues);
  const concurrency = positiveInteger('--concurrency', values.concurrency, 1000);

  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY === true });
  const { startWorkers } = await import('../queues/start-workers.js');
  const running = await startWorkers(config, logger, { queues, concurrency, name: values.name });

  // Beside the workers, in the same process: the Celery producers' messages become jobs here too.
  const bridge = values['celery-bridge']
    ? await import('../bridges/celery-bridge.js').then(({ startCeleryBridge }) =>
        startCeleryBridge(config, logger).catch(async (error: unknown) => {
          await running.close();
          throw error;
        }),
      )
    : undefined;

  await untilSignal(logger, async () => {
    await bridge?.close();
    await running.close();
  });
  return 0;
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
