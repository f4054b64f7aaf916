#!/usr/bin/env node
/**
 * The `start-workers` bin: parse arguments, load configuration, make one call. Heavy modules load lazily so
 * `--help` and configuration errors answer at once.
 */
import { parseArgs } from 'node:util';
import { CONFIG_VARIABLES, loadConfig } from '../config.js';
import { EmailWorkersError } from '../errors.js';
import { createLogger } from '../logger.js';
import { UsageError } from './usage-error.js';
import { DELIVERY_STATUSES } from '../db/delivery-statuses.js';
import { QUEUE_NAMES, type QueueName } from '../tasks/define-task.js';

const HELP = `Usage: start-workers [command] [options]

Commands:
  (none)              run the email task workers: one BullMQ Worker per queue
                      (${QUEUE_NAMES.join(', ')})
  migrate             apply pending database migrations (safe to run from several replicas at once)
  deliveries          print recent rows of the delivery ledger
  deliveries purge    delete ledger rows older than --older-than (default LEDGER_RETENTION_DAYS)
  seed-users          development only: add sample users to the embedded database

Options for the workers:
  --queues LIST       comma-separated queues to consume (default: all)
  --concurrency N     jobs at once per queue (default: WORKER_CONCURRENCY, 10)
  --name NAME         worker name shown in Redis (default: email-worker@<host>)
  --monitor           the monitor (Bull Board and task API); not available yet

Options for deliveries:
  --to ADDRESS        only this recipient
  --status S          ${DELIVERY_STATUSES.join(', ')}
  --task T            only this task
  --since DURATION    only rows newer than this, e.g. 30m, 1h, 7d
  --limit N           at most N rows (default 50)
  --json              one JSON object per line instead of a table
  --older-than DUR    with purge: the age to delete from, e.g. 90d

  -h, --help          show this help

Environment (also read from .env; see .env.example for every variable and its default):
  ${wrap(CONFIG_VARIABLES.join(', '), 76, '  ')}

Examples:
  start-workers                                   all queues; mail goes to var/outbox/ without SMTP_HOST
  start-workers --queues auth_emails --concurrency 20
  start-workers migrate
  start-workers deliveries --to ada@example.com --since 1d
  start-workers deliveries purge --older-than 90d
  SMTP_HOST=smtp.example.com FROM_ADDRESS=no-reply@example.com NODE_ENV=production start-workers
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      queues: { type: 'string' },
      concurrency: { type: 'string' },
      name: { type: 'string' },
      monitor: { type: 'boolean', default: false },
      to: { type: 'string' },
      status: { type: 'string' },
      task: { type: 'string' },
      since: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
      'older-than': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const command = positionals.join(' ');
  switch (command) {
    case '':
      return runWorkers(values);
    case 'migrate':
      return runMigrate();
    case 'deliveries':
    case 'deliveries purge': {
      const { listDeliveries, purgeDeliveries } = await import('./deliveries.js');
      const config = loadConfig();
      return command === 'deliveries'
        ? listDeliveries(config, values)
        : purgeDeliveries(config, values['older-than']);
    }
    case 'seed-users': {
      const { seedUsers } = await import('./seed-users.js');
      return seedUsers(loadConfig());
    }
    default:
      throw new UsageError(`unknown command "${command}"; try start-workers --help`);
  }
}

async function runWorkers(values: {
  queues?: string;
  concurrency?: string;
  name?: string;
  monitor?: boolean;
}) {
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

async function runMigrate(): Promise<number> {
  const config = loadConfig();
  const { openDatabase } = await import('../db/open-database.js');
  const { migrate } = await import('../db/migrate.js');
  const database = await openDatabase(config);
  if (!database) throw new UsageError('migrate: no database configured; set DATABASE_URL');
  try {
    const applied = await migrate(database.pool, config.ledger.schema);
    process.stdout.write(
      applied.length
        ? `applied ${applied.join(', ')} to schema ${config.ledger.schema}\n`
        : `schema ${config.ledger.schema} is up to date\n`,
    );
    return 0;
  } finally {
    await database.close();
  }
}

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
