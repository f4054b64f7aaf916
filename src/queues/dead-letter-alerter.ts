/**
 * Tells someone about every dead letter, whoever added it (these workers, a bridge, another service): one `fatal`
 * log line each, and, with ALERT_WEBHOOK_URL, a Slack-compatible POST — batched, so a relay outage that fails a
 * thousand jobs makes one alert with counts by task and error, not a thousand.
 *
 * Every worker process runs it, reading the `dead_letter` queue's `added` events; a per-letter key taken with
 * SET NX makes one replica the one that logs and counts each letter. The counts wait in Redis (bounded: a total,
 * a hash of counts, a few examples); the first letter of a batch starts the window, and when it has passed the one
 * replica whose atomic drain returns the batch posts it. The POST runs on its own, retried with backoff, and
 * never holds up a job.
 */
import { QueueEvents, type Queue } from 'bullmq';
import type { Config } from '../config.js';
import { maskEmailsIn, type Logger } from '../logger.js';
import { postAlert } from './alert-webhook.js';
import { createRedis, queuePrefix, type RedisConnection } from './connection.js';
import { DEAD_LETTER_QUEUE, FAILED_JOB_SOURCE, type DeadLetterData } from './dead-letter.js';

/** Examples an alert names one by one; the rest are counted. */
const MAX_EXAMPLES = 10;

// KEYS: total, counts, examples, batch start. ARGV: count field, example, now, max examples.
const ENQUEUE = `
redis.call('INCR', KEYS[1])
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if redis.call('LLEN', KEYS[3]) < tonumber(ARGV[4]) then redis.call('RPUSH', KEYS[3], ARGV[2]) end
redis.call('SET', KEYS[4], ARGV[3], 'NX')
return 1`;
// Same keys. ARGV: now, window. Returns the batch once its window has passed, and empties it: one caller gets it.
const DRAIN = `
local start = redis.call('GET', KEYS[4])
if not start or tonumber(ARGV[1]) < tonumber(start) + tonumber(ARGV[2]) then return false end
local batch = { redis.call('GET', KEYS[1]) or '0', redis.call('HGETALL', KEYS[2]), redis.call('LRANGE', KEYS[3], 0, -1) }
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return batch`;

/** One dead letter as an alert names it: nothing in it that a log line may not hold. */
export interface AlertedLetter {
  letter: string;
  source: string;
  task: string;
  code: string;
  job_id?: string | undefined;
  recipient?: string | undefined;
  error: string;
}

/** The JSON an alert POSTs: Slack's `text`, and the same facts as fields for other receivers. */
export interface AlertBody {
  text: string;
  dead_letters: number;
  counts: Array<{ task: string; code: string; count: number }>;
  examples: AlertedLetter[];
}

export interface DeadLetterAlerter {
  close(): Promise<void>;
}

export function startDeadLetterAlerter(
  deadLetters: Queue,
  redis: RedisConnection,
  config: Pick<Config, 'redis' | 'deadLetters'>,
  logger: Logger,
): DeadLetterAlerter {
  const base = `${queuePrefix(config.redis, DEAD_LETTER_QUEUE)}:${DEAD_LETTER_QUEUE}`;
  const keys = ['total', 'counts', 'examples', 'start'].map((name) => `${base}:alerts:${name}`);
  const { alertWebhookUrl, alertBatchWindowMs, retentionS } = config.deadLetters;
  const posts = new AbortController();
  let events: QueueEvents | undefined;
  let connection: RedisConnection | undefined;
  let closed = false;

  const alert = async (letterId: string) => {
    // Alerted once across replicas, however many read the event (and again after a restart).
    const first = await redis.set(`${base}:alerted:${letterId}`, '1', 'EX', Math.ceil(retentionS), 'NX');
    if (first !== 'OK') return;
    const job = await deadLetters.getJob(letterId);
    if (!job) return;
    const letter = alertedLetter(letterId, job.name, job.data as Partial<DeadLetterData>);
    logger.fatal(logFields(letter, job.data as Partial<DeadLetterData>), logMessage(letter));
    if (!alertWebhookUrl) return;
    await redis.eval(
      ENQUEUE,
      keys.length,
      ...keys,
      `${letter.task}\t${letter.code}`,
      JSON.stringify(letter),
      String(Date.now()),
      String(MAX_EXAMPLES),
    );
  };

  const start = async () => {
    const cursorKey = `${base}:cursor:alerts`;
    const lastEventId = (await redis.get(cursorKey).catch(() => null)) ?? '$';
    if (closed) return;
    connection = createRedis(config.redis, 'worker', () => undefined);
    events = new QueueEvents(DEAD_LETTER_QUEUE, {
      connection,
      prefix: queuePrefix(config.redis, DEAD_LETTER_QUEUE),
      lastEventId,
    });
    events.on('error', (error) => logger.debug({ err: error.message }, 'dead-letter events error'));
    let chain = Promise.resolve();
    events.on('added', ({ jobId }, eventId) => {
      chain = chain
        .then(() => alert(jobId))
        .then(() => redis.set(cursorKey, eventId))
        .then(
          () => undefined,
          (error: Error) => logger.error({ err: error.message }, 'could not alert a dead letter'),
        );
    });
  };

  let draining = false;
  const drain = async () => {
    if (draining || closed) return;
    draining = true;
    try {
      const batch = (await redis.eval(
        DRAIN,
        keys.length,
        ...keys,
        String(Date.now()),
        String(alertBatchWindowMs),
      )) as [string, string[], string[]] | null;
      if (!batch) return;
      const body = alertBody(Number(batch[0]), batch[1], batch[2], alertBatchWindowMs);
      // Not awaited: a receiver that is down or slow is retried on its own time, never on a job's.
      void postAlert(alertWebhookUrl!, body, posts.signal, logger);
    } catch (error) {
      logger.debug({ err: (error as Error).message }, 'dead-letter alerts not drained');
    } finally {
      draining = false;
    }
  };

  const started = start().catch((error: Error) =>
    logger.error({ err: error.message }, 'dead-letter alerter not started'),
  );
  const timer = alertWebhookUrl
    ? setInterval(() => void drain(), Math.min(1_000, alertBatchWindowMs))
    : undefined;
  timer?.unref();
  return {
    async close() {
      closed = true;
      clearInterval(timer);
      posts.abort();
      await started;
      await events?.close().catch(() => undefined);
      connection?.disconnect();
    },
  };
}

function alertedLetter(letterId: string, name: string, data: Partial<DeadLetterData>): AlertedLetter {
  return {
    letter: maskEmailsIn(letterId),
    source: String(data.source ?? name),
    task: maskEmailsIn(String(data.task ?? name)).slice(0, 200),
    code: String(data.code ?? 'FAILED').slice(0, 100),
    job_id: data.message_id === undefined ? undefined : maskEmailsIn(String(data.message_id)).slice(0, 300),
    recipient: data.recipient === undefined ? undefined : maskEmailsIn(String(data.recipient)).slice(0, 300),
    error: maskEmailsIn(String(data.reason ?? '')).slice(0, 500),
  };
}

function logMessage(letter: AlertedLetter): string {
  return letter.source === FAILED_JOB_SOURCE
    ? 'dead letter: job failed for good'
    : `dead letter: message refused by ${letter.source}`;
}

function logFields(letter: AlertedLetter, data: Partial<DeadLetterData>): Record<string, unknown> {
  return {
    deadLetter: letter.letter,
    source: letter.source,
    task: letter.task,
    queue: data.job?.queue ?? data.origin,
    jobId: letter.job_id,
    to: letter.recipient,
    runs: data.attempts,
    code: letter.code,
    lastError: letter.error,
  };
}

/** The batch as one alert: counts by task and error code, then a few examples. */
export function alertBody(
  total: number,
  countFields: readonly string[],
  examples: readonly string[],
  windowMs: number,
): AlertBody {
  const counts: AlertBody['counts'] = [];
  for (let i = 0; i + 1 < countFields.length; i += 2) {
    const [task = '', code = ''] = countFields[i]!.split('\t');
    counts.push({ task, code, count: Number(countFields[i + 1]) });
  }
  counts.sort((a, b) => b.count - a.count);
  const letters = examples.map((example) => JSON.parse(example) as AlertedLetter);
  const seconds = Math.round(windowMs / 1000);
  const lines = [
    `${total} dead letter${total === 1 ? '' : 's'} in ${seconds} s (email-workers)`,
    ...counts.map((c) => `• ${c.task} — ${c.code}: ${c.count}`),
    ...(letters.length ? [total > letters.length ? `First ${letters.length}:` : 'Each:'] : []),
    ...letters.map(
      (l) => `• ${l.task} job ${l.job_id ?? l.letter}${l.recipient ? ` to ${l.recipient}` : ''}: ${l.error}`,
    ),
    'See them with `start-workers dlq list`.',
  ];
  return { text: lines.join('\n'), dead_letters: total, counts, examples: letters };
}
