/** `start-workers celery-bridge`: Celery producers' messages → the queues' jobs, until SIGTERM or SIGINT. */
import { parseArgs } from 'node:util';
import { loadBridgeConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { positiveInteger } from './positive-integer.js';
import { untilSignal } from './until-signal.js';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string' },
      queues: { type: 'string' },
      'batch-size': { type: 'string' },
    },
    strict: true,
  });
  const batchSize = positiveInteger('--batch-size', values['batch-size'], 10_000);
  const config = loadBridgeConfig();
  const logger = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY === true });
  const { startCeleryBridge } = await import('../bridges/celery-bridge.js');
  const bridge = await startCeleryBridge(config, logger, {
    name: values.name,
    queues: values.queues
      ?.split(',')
      .map((queue) => queue.trim())
      .filter(Boolean),
    batchSize,
  });
  await untilSignal(logger, () => bridge.close());
  return 0;
}
