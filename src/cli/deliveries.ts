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
      sent: { type: 'boolean', default: false },
      resend: { type: 'boolean', default: false },
      by: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const sub = positionals.join(' ');
  if (sub === '') return listDeliveries(loadConfig(), values);
  if (sub === 'purge') return purgeDeliveries(loadConfig(), values['older-than']);
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

export async function purgeDeliveries(config: Config, olderThan: string | undefined): Promise<number> {
  const days =
    olderThan === undefined
      ? config.ledger.retentionDays
      : durationSeconds('--older-than', olderThan) / 86_400;
  const deleted = await withLedger(config, (ledger) => ledger.purge(days));
  process.stdout.write(`deleted ${deleted} ledger rows older than ${days} days\n`);
  return 0;
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

const COLUMNS: Array<[string, (row: DeliveryRow) => string]> = [
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
  if (rows.length === 0) return 'no deliveries match\n';
  // A key is copied from here into `deliveries resolve`: it is shown whole.
  const cells = rows.map((row) =>
    COLUMNS.map(([title, cell]) =>
      cell(row)
        .replace(/\s+/g, ' ')
        .slice(0, title === 'key' ? undefined : 60),
    ),
  );
  const widths = COLUMNS.map(([title], i) => Math.max(title.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) =>
    `${values
      .map((value, i) => value.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`;
  return line(COLUMNS.map(([title]) => title)) + cells.map(line).join('');
}
