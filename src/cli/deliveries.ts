/**
 * `start-workers deliveries`, `deliveries purge` and `deliveries resolve`: the ledger for a person at a terminal.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig, parseDurationSeconds, type Config } from '../config.js';
import {
  DELIVERY_STATUSES,
  createLedger,
  type DeliveryRow,
  type DeliveryStatus,
} from '../db/ledger/index.js';
import { openDatabase } from '../db/open-database.js';
import { UsageError } from './usage-error.js';
import { textTable, type Column } from './text-table.js';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      to: { type: 'string' },
      status: { type: 'string' },
      task: { type: 'string' },
      since: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
      'older-than': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      sent: { type: 'boolean', default: false },
      resend: { type: 'boolean', default: false },
      by: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const sub = positionals.join(' ');
  if (sub === 'purge') {
    return purgeDeliveries(loadConfig(), {
      olderThan: values['older-than'],
      dryRun: values['dry-run'],
      force: values.force,
    });
  }
  for (const flag of ['older-than', 'dry-run', 'force'] as const) {
    if (values[flag]) throw new UsageError(`--${flag}: only with deliveries purge`);
  }
  if (sub === '') return listDeliveries(loadConfig(), values);
  if (positionals[0] === 'resolve') {
    if (positionals.length !== 2)
      throw new UsageError('deliveries resolve: expected one KEY (the idempotency key)');
    return resolveDelivery(loadConfig(), positionals[1]!, values);
  }
  throw new UsageError(`unknown command "deliveries ${sub}"; try start-workers --help`);
}

export interface DeliveryQuery {
  to?: string;
  status?: string;
  task?: string;
  since?: string;
  limit?: string;
  json?: boolean;
}

export async function listDeliveries(config: Config, query: DeliveryQuery): Promise<number> {
  if (query.status && !(DELIVERY_STATUSES as readonly string[]).includes(query.status)) {
    throw new UsageError(`--status: expected one of ${DELIVERY_STATUSES.join(', ')}`);
  }
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw new UsageError('--limit: expected an integer from 1 to 10000');
  }
  const since = query.since === undefined ? undefined : durationSeconds('--since', query.since);
  const rows = await withLedger(config, (ledger) =>
    ledger.list({
      recipient: query.to,
      status: query.status as DeliveryStatus | undefined,
      task: query.task,
      since: since === undefined ? undefined : new Date(Date.now() - since * 1000),
      limit,
    }),
  );
  process.stdout.write(query.json ? rows.map((row) => `${JSON.stringify(row)}\n`).join('') : table(rows));
  return 0;
}

export interface PurgeOptions {
  /** An age with its unit (`90d`, `12h`); default LEDGER_RETENTION_DAYS. */
  olderThan?: string | undefined;
  /** Print what would go, delete nothing. */
  dryRun?: boolean;
  /** Allow an age under one day. */
  force?: boolean;
}

const DAY_S = 86_400;

/**
 * Deletes old ledger rows, saying what it deletes. A row is what keeps a key from being sent twice: an age must
 * carry its unit (a bare `90` once meant 90 seconds and emptied the ledger), and under a day needs `--force`.
 */
export async function purgeDeliveries(config: Config, options: PurgeOptions = {}): Promise<number> {
  const { olderThan } = options;
  if (olderThan !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(olderThan)) {
    throw new UsageError(
      `--older-than: "${olderThan}" has no unit; write ${olderThan.trim()}d for days (or h, m, s)`,
    );
  }
  const seconds =
    olderThan === undefined
      ? config.ledger.retentionDays * DAY_S
      : durationSeconds('--older-than', olderThan);
  const age = olderThan?.trim() ?? `${config.ledger.retentionDays}d`;
  if (seconds < DAY_S && !options.force) {
    throw new UsageError(
      `--older-than: ${age} is under one day, and rows that young still keep retried and re-enqueued ` +
        'emails from being sent twice; add --force to delete them anyway',
    );
  }
  const days = seconds / DAY_S;
  const cutoff = new Date(Date.now() - seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
  const what = `ledger rows older than ${age} (created before ${cutoff} UTC)`;
  return withLedger(config, async (ledger) => {
    const counts = await ledger.countOlderThan(days);
    const found = counts.reduce((sum, count) => sum + count.rows, 0);
    const byStatus = counts.map((count) => `${count.rows} ${count.status}`).join(', ');
    if (options.dryRun) {
      process.stdout.write(`would delete ${found} ${what}${byStatus ? `: ${byStatus}` : ''}\n`);
      return 0;
    }
    const deleted = await ledger.purge(days);
    // The breakdown was counted just before the delete; rows crossing the cutoff in between change the total.
    const detail = deleted === found && byStatus ? `: ${byStatus}` : '';
    process.stdout.write(`deleted ${deleted} ${what}${detail}\n`);
    return 0;
  });
}

/**
 * A person's verdict on an `unknown` delivery: `--sent` (found in the mail server's log) or `--resend` (not
 * found). Recorded with who and when; replaying the job afterwards completes it as a duplicate, or sends it.
 */
export async function resolveDelivery(
  config: Config,
  key: string,
  options: { sent?: boolean; resend?: boolean; by?: string | undefined },
): Promise<number> {
  if (options.sent === options.resend) {
    throw new UsageError(
      'deliveries resolve: say --sent (it arrived) or --resend (it did not), one of the two',
    );
  }
  const who = options.by ?? process.env.SUDO_USER ?? safeUserName();
  const { row, current } = await withLedger(config, async (ledger) => {
    const row = await ledger.resolve(key, options.sent ? 'sent' : 'resend', who);
    return { row, current: row ? undefined : (await ledger.list({ key, limit: 1 }))[0] };
  });
  if (!row) {
    throw new UsageError(
      current
        ? `deliveries resolve: ${key} is ${current.status}, not unknown: nothing to resolve`
        : `deliveries resolve: no delivery with key ${key}`,
    );
  }
  process.stdout.write(
    options.sent
      ? `${key}: recorded as sent by ${who}; replaying its job completes it without sending\n`
      : `${key}: released by ${who}; replaying its job sends it\n`,
  );
  return 0;
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown user';
  }
}

async function withLedger<T>(config: Config, work: (ledger: ReturnType<typeof createLedger>) => Promise<T>) {
  const database = await openDatabase(config);
  if (!database) throw new UsageError('no database configured; set DATABASE_URL');
  try {
    return await work(createLedger(database.pool, config.ledger.schema));
  } finally {
    await database.close();
  }
}

function durationSeconds(flag: string, text: string): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined || seconds <= 0)
    throw new UsageError(`${flag}: expected a duration such as 1h or 90d`);
  return seconds;
}

const COLUMNS: Array<Column<DeliveryRow>> = [
  ['created', (row) => row.created_at.toISOString().replace('T', ' ').slice(0, 19)],
  ['status', (row) => row.status],
  ['task', (row) => row.task],
  ['recipient', (row) => row.recipient ?? ''],
  ['attempts', (row) => String(row.attempts)],
  ['job', (row) => row.job_id],
  ['key', (row) => row.idempotency_key],
  ['detail', (row) => row.last_error ?? row.smtp_response ?? ''],
];

function table(rows: DeliveryRow[]): string {
  // A key is copied from here into `deliveries resolve`: it is shown whole.
  return textTable(rows, COLUMNS, { empty: 'no deliveries match', maxWidth: 60, whole: 'key' });
}
