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
  suppression list    addresses not mailed (bounced, complained, unsubscribed, added by hand), in clear
  suppression add ADDRESS | suppression remove ADDRESS
                      put an address on the list (--days N for a term; for good without) or take it off
  dlq [list]          print the dead letters, newest first: jobs that failed for good and messages the
                      bridges refused (--task, --since, --limit, --json)
  dlq replay ID       put a dead letter's job back on its queue with a fresh attempt budget and the same
                      idempotency key (nothing already sent goes twice); an expired email is refused
  dlq replay --all    the same for every dead letter (--task T, --since 1h to narrow it)
  dlq purge --older-than AGE
                      remove dead letters older than AGE, e.g. 7d (under one day needs --force)
  seed-users          development only: add sample users to the embedded database
  wait                wait until Redis and (when configured) PostgreSQL answer, up to --timeout SECONDS (60);
                      the container's entrypoint runs it before the service
  celery-bridge       turn Celery producers' messages (send_task, .delay) into jobs: CELERY_BROKER_URL
                      (redis:// or amqp://), CELERY_QUEUES; results for AsyncResult.get() with
                      CELERY_RESULT_BACKEND
  stream-bridge       turn Redis Streams entries (INGEST_STREAMS) and pub/sub messages (INGEST_CHANNELS),
                      { task, payload, idempotency_key? }, into jobs

Options for the workers:
  --queues LIST       comma-separated queues to consume (default: all)
  --concurrency N     jobs at once per queue (default: WORKER_CONCURRENCY, 10)
  --name NAME         worker name shown in Redis (default: email-worker@<host>)
  --processes N|auto  worker processes under one supervisor (default: WORKER_PROCESSES, 1; auto: one per
                      CPU): restarted when they crash, stopped together, one HEALTH_PORT for all
  --monitor           run the monitor instead of workers: Bull Board, /workers, /templates, /outbox,
                      /deliveries, the task API under /api and /metrics on MONITOR_PORT (5555)
  --celery-bridge     run the Celery bridge in the same process as the workers

Options for celery-bridge:
  --name NAME         names its processing list and heartbeat (default: celery-bridge@<host>)
  --queues LIST       Celery queues to consume (default: CELERY_QUEUES, email_notifications)
  --batch-size N      messages bridged at once (default 500)

Options for stream-bridge:
  --stream NAME       a stream to read (repeatable or comma-separated; default: INGEST_STREAMS)
  --channel NAME      a pub/sub channel (repeatable or comma-separated; default: INGEST_CHANNELS)
  --group NAME        consumer group, created at the stream's end when missing (default email-workers)
  --consumer NAME     consumer name in the group (default: stream-bridge@<host>)
  --batch-size N      entries read at once (default 100)
  --block-timeout MS  how long one read waits for entries (default 5000)
  --claim-idle MS     take over entries pending this long on a dead consumer (default 30000)

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

Options for suppression:
  --search TEXT       with list: only addresses containing TEXT
  --limit N           with list: at most N entries (default 100)
  --json              with list: one JSON object per line
  --days N            with add: lapse after N days (default: for good)
  --reason R          with add: manual (default), bounce, complaint or unsubscribe

  -h, --help          show this help

Environment (also read from .env; see .env.example for every variable and its default):
  ${wrap(CONFIG_VARIABLES.join(', '), 76, '  ')}

Examples:
  start-workers                                   all queues; mail goes to var/outbox/ without SMTP_HOST
  start-workers --queues auth_emails --concurrency 20
  start-workers migrate
  start-workers suppression add bounced@example.com --days 30
  start-workers deliveries --to ada@example.com --since 1d
  start-workers deliveries purge --older-than 90d --dry-run
  start-workers deliveries purge --older-than 90d
  start-workers dlq list --since 1h
  start-workers dlq replay --all --task send_booking_confirmation
  start-workers dlq purge --older-than 7d
  start-workers deliveries resolve 'send_booking_confirmation~booking%3A42' --resend --by ada
  CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// start-workers celery-bridge
  start-workers --celery-bridge                   workers and the Celery bridge in one process
  start-workers stream-bridge --stream email-requests --consumer bridge-1
  MONITOR_USER=ops MONITOR_PASSWORD=… API_TOKEN=… start-workers --monitor
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
