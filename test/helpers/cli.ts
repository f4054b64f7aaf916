/** The `start-workers` bin as a child process, run from source with tsx. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/start-workers.ts', import.meta.url));
// Absolute, so the CLI can run from another working directory (where it looks for .env).
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface RunningCli {
  child: ChildProcess;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/** `env` replaces the environment (plus PATH), so a developer's own variables or `.env` values do not leak in. */
export function spawnCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd: string = process.cwd(),
): RunningCli {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}
