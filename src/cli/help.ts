/** The text of `start-workers --help`: every command, option and variable, with examples (pg-boss's shape). */
import { CONFIG_VARIABLES } from '../config.js';
import { DELIVERY_STATUSES } from '../db/delivery-statuses.js';
import { QUEUE_NAMES } from '../tasks/define-task.js';

export const HELP = `Usage: start-workers [command] [options]

Commands:
  (none)              run the email task workers: one BullMQ Worker per queue
                      (${QUEUE_NAMES.join(', ')})
  migrate             apply pending database migrations (safe to run from several replicas at once)
  deliveries          print recent rows of the delivery ledger
  deliveries purge    delete ledger rows older than --older-than (default LEDGER_RETENTION_DAYS) and
                      print what it deleted, by status
  deliveries resolve KEY --sent | --resend
                      a person's verdict on an unknown delivery: it arrived (a replay completes as a
                      duplicate), or it did not (a replay sends it); recorded with --by NAME and the time
  seed-users          development only: add sample users to the embedded database
  wait                wait until Redis and (when configured) PostgreSQL answer, up to --timeout SECONDS (60);
                      the container's entrypoint runs it before the service

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
  --older-than AGE    with purge: the age to delete from, with its unit: 90d, 12h (a bare number is
                      refused); under one day needs --force
  --dry-run           with purge: print what would be deleted, by status, and delete nothing
  --force             with purge: allow an --older-than under one day
  --sent, --resend    with resolve: the verdict; --by NAME says who (default: the user)

  -h, --help          show this help

Environment (also read from .env; see .env.example for every variable and its default):
  ${wrap(CONFIG_VARIABLES.join(', '), 76, '  ')}

Examples:
  start-workers                                   all queues; mail goes to var/outbox/ without SMTP_HOST
  start-workers --queues auth_emails --concurrency 20
  start-workers migrate
  start-workers deliveries --to ada@example.com --since 1d
  start-workers deliveries purge --older-than 90d --dry-run
  start-workers deliveries purge --older-than 90d
  start-workers deliveries resolve 'send_booking_confirmation~booking%3A42' --resend --by ada
  SMTP_HOST=smtp.example.com FROM_ADDRESS=no-reply@example.com NODE_ENV=production start-workers
`;

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
