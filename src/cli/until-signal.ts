/** Runs until SIGTERM or SIGINT, then `close()`; a second signal exits at once. The end of the bridge commands. */
import type { Logger } from '../logger.js';

export async function untilSignal(logger: Logger, close: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting at once');
        logger.flush();
        // Nothing is lost: what was not acknowledged is delivered again (Redis processing list, RabbitMQ, PEL).
        process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
      }
      stopping = true;
      logger.info({ signal }, 'shutting down: finishing the batch in hand');
      close().then(resolve, (error: Error) => {
        logger.error({ err: error.message }, 'error during shutdown');
        resolve();
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  logger.info('stopped');
  logger.flush();
}
