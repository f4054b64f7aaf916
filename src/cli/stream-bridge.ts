/** `start-workers stream-bridge`: Redis Streams entries and pub/sub messages → the queues' jobs, until a signal. */
import { parseArgs } from 'node:util';
import { loadBridgeConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { positiveInteger } from './positive-integer.js';
import { untilSignal } from './until-signal.js';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      stream: { type: 'string', multiple: true },
      channel: { type: 'string', multiple: true },
      group: { type: 'string' },
      consumer: { type: 'string' },
      'batch-size': { type: 'string' },
      'block-timeout': { type: 'string' },
      'claim-idle': { type: 'string' },
    },
    strict: true,
  });
  const list = (given: string[] | undefined) =>
    given
      ?.flatMap((value) => value.split(','))
      .map((name) => name.trim())
      .filter(Boolean);
  const options = {
    streams: list(values.stream),
    channels: list(values.channel),
    group: values.group,
    consumer: values.consumer,
    batchSize: positiveInteger('--batch-size', values['batch-size'], 10_000),
    blockTimeoutMs: positiveInteger('--block-timeout', values['block-timeout'], 600_000),
    claimIdleMs: positiveInteger('--claim-idle', values['claim-idle'], 86_400_000),
  };
  const config = loadBridgeConfig();
  const logger = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY === true });
  const { startStreamBridge } = await import('../bridges/stream-bridge.js');
  const bridge = await startStreamBridge(config, logger, options);
  await untilSignal(logger, () => bridge.close());
  return 0;
}
