/**
 * Real `start-workers` processes (from source, with tsx), for behaviour that must hold across replicas: each on
 * the same queue prefix, each told apart by WORKER_NAME. `stop()` sends SIGTERM and waits for every exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './wait.js';

export interface WorkerProcesses {
  children: ChildProcess[];
  /** Each process's stdout so far (its JSON log lines). */
  output(index: number): string;
  stop(): Promise<void>;
}

export async function startWorkerProcesses(
  count: number,
  env: Record<string, string | undefined>,
  args: string[] = [],
): Promise<WorkerProcesses> {
  const outputs: string[] = [];
  const children = Array.from({ length: count }, (_, index) => {
    outputs[index] = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/start-workers.ts', ...args], {
      env: { PATH: process.env.PATH, ...env, WORKER_NAME: `test-worker-${index}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (outputs[index] += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (outputs[index] += chunk.toString()));
    return child;
  });
  const handle: WorkerProcesses = {
    children,
    output: (index) => outputs[index] ?? '',
    async stop() {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
            }),
        ),
      );
    },
  };
  try {
    await waitFor(() => outputs.every((output) => output.includes('workers started')), {
      timeoutMs: 60_000,
      what: `${count} worker processes started`,
    });
  } catch (error) {
    await handle.stop();
    throw new Error(`${(error as Error).message}\n${outputs.join('\n---\n').slice(-4000)}`, { cause: error });
  }
  return handle;
}
