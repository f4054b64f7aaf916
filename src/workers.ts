/** The worker side, for embedding workers in another Node process (the CLI uses the same). */
export { loadConfig, type Config } from './config.js';
export { createLogger } from './logger.js';
export { startWorkers, type RunningWorkers, type WorkerOptions } from './queues/start-workers.js';
