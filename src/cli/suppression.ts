/**
 * `start-workers suppression list|add|remove`: the suppression list for a person at a terminal. It prints
 * addresses in clear: that is what an operator came for (the logs never do).
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config.js';
import { openDatabase } from '../db/open-database.js';
import { createSuppressionList, type Suppression, type SuppressionList } from '../db/suppressions.js';
import { UsageError } from './usage-error.js';
import { textTable, type Column } from './text-table.js';

const ADDRESS = /^[^\s@]+@[^\s@]+$/;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      search: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
      days: { type: 'string' },
      reason: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [command, address, ...extra] = positionals;
  if (extra.length) throw new UsageError(`suppression: unexpected "${extra.join(' ')}"`);
  const config = loadConfig();
  if (command === 'list' && address === undefined) {
    const limit = values.limit === undefined ? 100 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw new UsageError('--limit: expected an integer from 1 to 10000');
    const rows = await withList(config, (list) => list.list({ limit, search: values.search }));
    process.stdout.write(values.json ? rows.map((row) => `${JSON.stringify(row)}\n`).join('') : table(rows));
    return 0;
  }
  if ((command === 'add' || command === 'remove') && address !== undefined) {
    if (!ADDRESS.test(address)) throw new UsageError(`suppression ${command}: expected an email address`);
    if (command === 'remove') {
      const removed = await withList(config, (list) => list.remove(address));
      process.stdout.write(removed ? `${address}: removed\n` : `${address}: was not on the list\n`);
      return 0;
    }
    const days = values.days === undefined ? undefined : Number(values.days);
    if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 36_500))
      throw new UsageError('--days: expected an integer from 1 to 36500');
    const reason = values.reason ?? 'manual';
    if (reason !== 'manual' && reason !== 'complaint' && reason !== 'unsubscribe' && reason !== 'bounce')
      throw new UsageError('--reason: expected manual, bounce, complaint or unsubscribe');
    const entry = await withList(config, (list) =>
      list.add({ address, reason, source: `cli:${userName()}`, days }),
    );
    process.stdout.write(
      `${entry.address}: suppressed (${entry.reason}${entry.expires_at ? ` until ${iso(entry.expires_at)}` : ', for good'})\n`,
    );
    return 0;
  }
  throw new UsageError('expected suppression list, suppression add ADDRESS or suppression remove ADDRESS');
}

async function withList<T>(config: Config, work: (list: SuppressionList) => Promise<T>): Promise<T> {
  const database = await openDatabase(config);
  if (!database) throw new UsageError('no database configured; set DATABASE_URL');
  try {
    return await work(createSuppressionList(database.pool, config.ledger.schema));
  } finally {
    await database.close();
  }
}

function userName(): string {
  try {
    return process.env.SUDO_USER ?? userInfo().username;
  } catch {
    return 'unknown user';
  }
}

const iso = (date: Date) => date.toISOString().replace('T', ' ').slice(0, 19);

const COLUMNS: Array<Column<Suppression>> = [
  ['address', (row) => row.address],
  ['reason', (row) => row.reason],
  ['since', (row) => iso(row.created_at)],
  ['until', (row) => (row.expires_at ? iso(row.expires_at) : 'never')],
  ['source', (row) => row.source],
  ['detail', (row) => row.detail ?? ''],
];

function table(rows: Suppression[]): string {
  // The address is copied from here into `suppression remove`: it is shown whole.
  return textTable(rows, COLUMNS, { empty: 'the suppression list is empty', maxWidth: 60, whole: 'address' });
}
