#!/usr/bin/env node
/**
 * The `start-workers` bin: picks the command, loads it lazily (so `--help` and configuration errors answer at
 * once, and a worker never loads what only another command needs), runs it, and turns errors into one line.
 * Each command is a file of its own exporting `run(argv)`.
 */
import { EmailWorkersError } from '../errors.js';
import { catchStopSignals } from './stop-signals.js';
import { UsageError } from './usage-error.js';

type Command = () => Promise<{ run(argv: string[]): Promise<number> }>;

/** The first argument names the command; anything else (options included) runs the workers. */
const COMMANDS: Record<string, Command> = {
  migrate: () => import('./migrate.js'),
  deliveries: () => import('./deliveries.js'),
  dlq: () => import('./dlq.js'),
  'seed-users': () => import('./seed-users.js'),
  wait: () => import('./wait.js'),
  'celery-bridge': () => import('./celery-bridge.js'),
  'stream-bridge': () => import('./stream-bridge.js'),
  suppression: () => import('./suppression.js'),
};

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    const { HELP } = await import('./help.js');
    process.stdout.write(HELP);
    return 0;
  }
  const [first = '', ...rest] = argv;
  if (Object.hasOwn(COMMANDS, first)) return (await COMMANDS[first]!()).run(rest);
  if (first !== '' && !first.startsWith('-')) {
    throw new UsageError(`unknown command "${argv.join(' ')}"; try start-workers --help`);
  }
  // Before the workers' modules load: a stop requested meanwhile is kept for them.
  catchStopSignals();
  return (await import('./run-workers.js')).run(argv);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof EmailWorkersError || error instanceof UsageError) {
      process.stderr.write(`start-workers: ${error.message}\n`);
    } else if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`start-workers: ${(error as Error).message}\nTry start-workers --help\n`);
    } else {
      process.stderr.write(`start-workers: ${(error as Error).stack ?? String(error)}\n`);
    }
    process.exit(1);
  },
);
