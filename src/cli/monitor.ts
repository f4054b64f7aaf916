/**
 * `start-workers --monitor`: Bull Board, the monitor's pages, the task API and the queue gauges on MONITOR_PORT,
 * until SIGTERM or SIGINT. Takes no jobs. The monitor (express, Bull Board) is imported here only.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';

export async function run(argv: string[]): Promise<number> {
  parseArgs({ args: argv, options: { monitor: { type: 'boolean' } }, strict: true });
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY === true });
  const { startMonitor } = await import('../monitor/app.js');
  const monitor = await startMonitor(config, logger, { version: packageVersion() });

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'monitor shutting down');
      monitor.close().then(resolve, resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  logger.flush();
  return 0;
}

function packageVersion(): string {
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}
