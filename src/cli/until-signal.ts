/** Runs until SIGTERM or SIGINT, then `close()`: the end of every long-running command. */
import type { Logger } from '../logger.js';

export async function untilSignal(logger: Logger, close: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down: finishing work in flight');
      close().then(resolve, (error: Error) => {
        logger.error({ err: error.message }, 'error during shutdown');
        resolve();
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  logger.info('stopped');
  logger.flush();
}
