/**
 * A Redis server of the test's own (the machine's redis-server binary on a free port), for tests that stop
 * and restart Redis without disturbing the shared one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { answersPing } from './redis-nodes.js';
import { closedPort } from './smtp-sink.js';
import { waitFor } from './wait.js';

export interface OwnRedis {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await closedPort();
  let child: ChildProcess | undefined;
  const own: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
      await waitFor(() => answersPing(own.url), { what: `redis-server on port ${port}` });
    },
    async stop() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
  await own.start();
  return own;
}
