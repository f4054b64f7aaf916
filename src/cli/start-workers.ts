#!/usr/bin/env node
/**
 * The `start-workers` bin: parse arguments, load configuration, make one call. Heavy modules load lazily so
 * `--help` and configuration errors answer at once.
 */
import { parseArgs } from 'node:util';
import { CONFIG_VARIABLES, loadConfig } from '../config.js';
import { EmailWorkersError } from '../errors.js';
import { createLogger } from '../logger.js';
import { QUEUE_NAMES, type QueueName } from '../tasks/define-task.js';

const HELP = `Usage: start-workers [options]

Runs the email task workers: one BullMQ Worker per queue (${QUEUE_NAMES.join(', ')}).

Options:
  --queues LIST       comma-separated queues to consume (default: all)
  --concurrency N     jobs at once per queue (default: WORKER_CONCURRENCY, 10)
  --name NAME         worker name shown in Redis (default: email-worker@<host>)
  --monitor           the monitor (Bull Board and task API); not available yet
  -h, --help          show this help

Environment (also read from .env; see .env.example for every variable and its default):
  ${wrap(CONFIG_VARIABLES.join(', '), 76, '  ')}

Examples:
  start-workers                                   all queues; mail goes to var/outbox/ without SMTP_HOST
  start-workers --queues auth_emails --concurrency 20
  SMTP_HOST=smtp.example.com FROM_ADDRESS=no-reply@example.com NODE_ENV=production start-workers
`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      queues: { type: 'string' },
      concurrency: { type: 'string' },
      name: { type: 'string' },
      monitor: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.monitor) {
    process.stderr.write('start-workers: --monitor (Bull Board and the task API) is not available yet\n');
    return 2;
  }
  const queues = parseQueues(values.queues);
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (
    concurrency !== undefined &&
    (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000)
  ) {
    throw new UsageError(`--concurrency: expected an integer from 1 to 1000, got "${values.concurrency}"`);
  }

  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY === true });
  const { startWorkers } = await import('../queues/start-workers.js');
  const running = await startWorkers(config, logger, { queues, concurrency, name: values.name });

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down: finishing jobs in flight');
      running.close().then(resolve, (error: Error) => {
        logger.error({ err: error.message }, 'error during shutdown');
        resolve();
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  logger.info('stopped');
  logger.flush();
  return 0;
}

class UsageError extends Error {}

function parseQueues(text: string | undefined): QueueName[] | undefined {
  if (text === undefined) return undefined;
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !(QUEUE_NAMES as readonly string[]).includes(name));
  if (unknown.length || names.length === 0) {
    throw new UsageError(
      `--queues: unknown queue ${unknown.join(', ') || '(none)'}; known: ${QUEUE_NAMES.join(', ')}`,
    );
  }
  return names as QueueName[];
}

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join(`\n${indent}`);
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
