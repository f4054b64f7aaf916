/**
 * A Redis server of the test's own (the machine's redis-server binary on a free port), for tests that stop
 * and restart Redis without disturbing the shared one. With `appendOnlyDir` it persists to an append-only file
 * there (`appendfsync everysec`, as production Redis usually runs), so a restart on the same port finds the data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { answersPing } from './redis-nodes.js';
import { closedPort } from './smtp-sink.js';
import { waitFor } from './wait.js';

export interface OwnRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL): whatever the append-only file had not fsynced is gone. */
  stop(): Promise<void>;
  /** The `SHUTDOWN` command: the server writes its append-only file out and exits. */
  shutdown(): Promise<void>;
  /** Starts it again on the same port (and data folder). */
  start(): Promise<void>;
  /** True while the server process runs. */
  readonly running: boolean;
}

export interface OwnRedisOptions {
  /** Persist with AOF (`everysec`) in this folder; without it nothing is persisted. */
  appendOnlyDir?: string;
}

export async function startOwnRedis(options: OwnRedisOptions = {}): Promise<OwnRedis> {
  const port = await closedPort();
  const persistence = options.appendOnlyDir
    ? ['--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', options.appendOnlyDir]
    : ['--appendonly', 'no'];
  let child: ChildProcess | undefined;
  const exited = () => !child || child.exitCode !== null || child.signalCode !== null;
  const own: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    get running() {
      return !exited();
    },
    async start() {
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence],
        {
          stdio: 'ignore',
        },
      );
      await waitFor(() => answersPing(own.url), { what: `redis-server on port ${port}`, timeoutMs: 20_000 });
    },
    async stop() {
      if (exited()) return;
      const gone = new Promise((resolve) => child!.once('exit', resolve));
      child!.kill('SIGKILL');
      await gone;
    },
    async shutdown() {
      if (exited()) return;
      const gone = new Promise((resolve) => child!.once('exit', resolve));
      const admin = new Redis(own.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
      admin.on('error', () => undefined);
      // The server closes the connection instead of answering.
      await admin.shutdown().catch(() => undefined);
      admin.disconnect();
      await gone;
    },
  };
  await own.start();
  return own;
}
