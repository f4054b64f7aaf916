/**
 * `start-workers dlq list | replay ID | replay --all | purge --older-than AGE`: the dead-letter queue for a person
 * at a terminal (src/queues/dead-letter-admin.ts does the work; the monitor offers the same).
 */
import { parseArgs } from 'node:util';
import { loadConfig, parseDurationSeconds } from '../config.js';
import { QueueUnavailableError } from '../errors.js';
import { createLogger, maskEmailsIn } from '../logger.js';
import { createRedis, queuePrefix, waitUntilReady } from '../queues/connection.js';
import { deadLetterAdmin, type DeadLetterAdmin, type DeadLetterView } from '../queues/dead-letter-admin.js';
import { DEAD_LETTER_QUEUE, openDeadLetters } from '../queues/dead-letter.js';
import { createJobState } from '../queues/job-state.js';
import { openQueues } from '../queues/open-queues.js';
import { QUEUE_NAMES, type QueueName } from '../tasks/define-task.js';
import { UsageError } from './usage-error.js';
import { textTable, type Column } from './text-table.js';

const DAY_S = 86_400;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      all: { type: 'boolean', default: false },
      task: { type: 'string' },
      since: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
      'older-than': { type: 'string' },
      force: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const [sub = 'list', ...rest] = positionals;
  const since =
    values.since === undefined ? undefined : new Date(Date.now() - duration('--since', values.since) * 1000);
  if (sub === 'list') {
    if (rest.length) throw new UsageError('dlq list: takes no arguments');
    const limit = values.limit === undefined ? 50 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new UsageError('--limit: expected an integer from 1 to 10000');
    }
    const letters = await withAdmin((admin) => admin.list({ task: values.task, since, limit }));
    process.stdout.write(
      values.json ? letters.map((l) => `${JSON.stringify(asJson(l))}\n`).join('') : table(letters),
    );
    return 0;
  }
  if (sub === 'replay') {
    if (values.all === (rest.length === 1)) {
      throw new UsageError(
        'dlq replay: give one dead letter ID, or --all (with --task and --since to narrow it)',
      );
    }
    if (!values.all && (values.task || values.since))
      throw new UsageError('--task, --since: only with dlq replay --all');
    const results = await withAdmin(async (admin) =>
      values.all ? admin.replayAll({ task: values.task, since }) : [await admin.replay(rest[0]!)],
    );
    for (const result of results) {
      process.stdout.write(`${result.id}: ${result.replayed ? 'replayed' : 'refused'}: ${result.detail}\n`);
    }
    const replayed = results.filter((result) => result.replayed).length;
    if (values.all) process.stdout.write(`${replayed} replayed, ${results.length - replayed} refused\n`);
    // A single replay refused is an error for a script; --all reports and succeeds.
    return values.all || replayed === 1 ? 0 : 1;
  }
  if (sub === 'purge') {
    const olderThan = values['older-than'];
    if (olderThan === undefined) throw new UsageError('dlq purge: --older-than AGE is required, e.g. 7d');
    if (/^\s*\d+(\.\d+)?\s*$/.test(olderThan)) {
      throw new UsageError(
        `--older-than: "${olderThan}" has no unit; write ${olderThan.trim()}d for days (or h, m, s)`,
      );
    }
    const seconds = duration('--older-than', olderThan);
    if (seconds < DAY_S && !values.force) {
      throw new UsageError(
        `--older-than: ${olderThan.trim()} is under one day; add --force to remove letters that young`,
      );
    }
    const removed = await withAdmin((admin) => admin.purge(seconds * 1000));
    process.stdout.write(`removed ${removed} dead letters older than ${olderThan.trim()}\n`);
    return 0;
  }
  throw new UsageError(`unknown command "dlq ${positionals.join(' ')}"; try start-workers --help`);
}

async function withAdmin<T>(work: (admin: DeadLetterAdmin) => Promise<T>): Promise<T> {
  const config = loadConfig();
  let lastError: Error | undefined;
  const redis = createRedis(config.redis, 'producer', (error) => (lastError = error));
  const handles = openQueues(QUEUE_NAMES, redis, config, createLogger({ level: 'silent' }));
  const deadLetters = openDeadLetters(redis, queuePrefix(config.redis, DEAD_LETTER_QUEUE));
  try {
    await waitUntilReady(redis, 5_000).catch((error: Error) => {
      throw new QueueUnavailableError(`Redis unavailable (${(lastError ?? error).message})`);
    });
    return await work(
      deadLetterAdmin({
        deadLetters: deadLetters.queue,
        queueFor: (name) => handles.queues.get(name as QueueName),
        jobState: createJobState(redis, (queue) => queuePrefix(config.redis, queue)),
        redis,
        keys: config.encryption.keys,
      }),
    );
  } finally {
    await deadLetters.close().catch(() => undefined);
    await handles.close().catch(() => undefined);
    redis.disconnect();
  }
}

function duration(flag: string, text: string): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined || seconds <= 0)
    throw new UsageError(`${flag}: expected a duration such as 1h or 7d`);
  return seconds;
}

function asJson(letter: DeadLetterView) {
  return { id: letter.id, at: letter.at.toISOString(), ...letter.data };
}

const COLUMNS: Array<Column<DeadLetterView>> = [
  ['at', (l) => l.at.toISOString().replace('T', ' ').slice(0, 19)],
  ['id', (l) => l.id],
  ['task', (l) => String(l.data.task ?? '')],
  ['code', (l) => String(l.data.code ?? '')],
  ['recipient', (l) => String(l.data.recipient ?? '')],
  ['reason', (l) => maskEmailsIn(String(l.data.reason ?? ''))],
];

function table(letters: DeadLetterView[]): string {
  // The id is copied from here into `dlq replay`: it is shown whole.
  return textTable(letters, COLUMNS, { empty: 'no dead letters', maxWidth: 80, whole: 'id' });
}
