/**
 * A real `start-workers` process, run from the built `dist/` (the shipped code, and a start in about a second
 * instead of tsx compiling the sources), with its JSON log lines captured and parsed, copied to a file for the
 * report, and its exit code or signal recorded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { waitFor } from '../../helpers/wait.js';
import { PROJECT_ROOT } from './paths.js';

export const WORKERS_BIN = join(PROJECT_ROOT, 'dist/cli/start-workers.js');

/** One pino line; `time` is epoch ms (pino's isoTime parsed), `level` pino's number (60 = fatal). */
export type LogLine = Record<string, unknown> & { level: number; time: number; msg?: string };

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

export interface WorkerProcess {
  /** The worker name in Redis (`WORKER_NAME`): BullMQ stores it on each job it takes (`processedBy`). */
  name: string;
  pid: number;
  startedAt: number;
  /** When it logged `workers started` (taking jobs), if it did. */
  readyAt: number | undefined;
  logs: LogLine[];
  logFile: string;
  stderr(): string;
  /** Set once the process has exited. */
  exitInfo: ExitInfo | undefined;
  exited: Promise<ExitInfo>;
  /** Set when the scenario itself killed it, or expects it to kill itself: a non-zero exit is then no failure. */
  expectedDeath: boolean;
  /** When the last signal was sent. */
  signalledAt: number | undefined;
  /** Resolves once the workers have started taking jobs. */
  ready(timeoutMs?: number): Promise<void>;
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL, marked as the scenario's doing. */
  kill(): Promise<ExitInfo>;
  /** SIGTERM, and the exit. */
  terminate(): Promise<ExitInfo>;
  /** The first log line (from now on or already seen) that `match` accepts. */
  waitForLog(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
}

export function spawnWorker(options: {
  name: string;
  env: Record<string, string>;
  cwd: string;
  logDir: string;
  args?: string[];
  expectedDeath?: boolean;
}): WorkerProcess {
  const logFile = join(options.logDir, `${options.name}.log`);
  mkdirSync(dirname(logFile), { recursive: true });
  const file = createWriteStream(logFile, { flags: 'a' });
  const child: ChildProcess = spawn(process.execPath, [WORKERS_BIN, ...(options.args ?? [])], {
    cwd: options.cwd,
    // Replaces the environment: a developer's own variables must not leak into the scenario.
    env: { PATH: process.env.PATH ?? '', ...options.env, WORKER_NAME: options.name },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let pending = '';
  let stderr = '';
  const worker: WorkerProcess = {
    name: options.name,
    pid: child.pid ?? -1,
    startedAt: Date.now(),
    readyAt: undefined,
    logs: [],
    logFile,
    stderr: () => stderr,
    exitInfo: undefined,
    exited: new Promise<ExitInfo>((resolve) =>
      child.on('exit', (code, signal) => {
        worker.exitInfo = { code, signal, at: Date.now() };
        if (pending) parseLine(pending);
        file.end();
        resolve(worker.exitInfo);
      }),
    ),
    expectedDeath: options.expectedDeath ?? false,
    signalledAt: undefined,
    ready: (timeoutMs = 30_000) =>
      worker
        .waitForLog((line) => line.msg === 'workers started', `${options.name} to start`, timeoutMs)
        .then((line) => {
          worker.readyAt = line.time;
        }),
    signal(signal) {
      if (worker.exitInfo) return;
      worker.signalledAt = Date.now();
      child.kill(signal);
    },
    async kill() {
      worker.expectedDeath = true;
      worker.signal('SIGKILL');
      return worker.exited;
    },
    async terminate() {
      worker.signal('SIGTERM');
      return worker.exited;
    },
    waitForLog: (match, what, timeoutMs = 30_000) =>
      waitFor(
        () => {
          const line = worker.logs.find(match);
          if (line) return line;
          if (worker.exitInfo) {
            throw new Error(`${options.name} exited (${describeExit(worker.exitInfo)}) before ${what}`);
          }
          return undefined;
        },
        { timeoutMs, intervalMs: 50, what },
      ),
  };

  function parseLine(text: string) {
    if (!text.trim()) return;
    try {
      const line = JSON.parse(text) as Record<string, unknown>;
      worker.logs.push({ ...line, time: Date.parse(String(line.time)) || Date.now() } as LogLine);
    } catch {
      worker.logs.push({ level: 30, time: Date.now(), msg: text, raw: true });
    }
  }
  child.stdout!.on('data', (chunk: Buffer) => {
    file.write(chunk);
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) parseLine(line);
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    file.write(chunk);
  });
  return worker;
}

export function describeExit(exit: ExitInfo | undefined): string {
  if (!exit) return 'still running';
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}
