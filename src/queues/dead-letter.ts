/**
 * The `dead_letter` queue: jobs that failed for good (copied by dead-letter-listener.ts, with their error history)
 * and messages a bridge could not turn into a task (an unknown task, a payload that fails validation, a serializer
 * other than JSON, a body that does not parse), kept with the reason, secrets masked, for a person to look at and
 * replay (dead-letter-admin.ts); each is alerted once (dead-letter-alerter.ts). Nothing consumes the queue: its
 * letters stay `waiting` until DEAD_LETTER_RETENTION or a purge removes them.
 *
 * Each entry is a BullMQ job named after its source, with data {@link DeadLetterData}, and an id that makes the
 * same failure one entry however often it is reported: `<queue>/<job id>` for a failed job (three replicas'
 * listeners add one letter), one derived from the message for a bridge (a bridge killed before its
 * acknowledgement dead-letters the same message again). Other services may add letters of their own in this shape.
 */
import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import { maskSecrets } from '../logger.js';
import type { RedisConnection } from './connection.js';

export const DEAD_LETTER_QUEUE = 'dead_letter';
/** The source of the letters of jobs that failed for good: only these can be replayed. */
export const FAILED_JOB_SOURCE = 'email-workers';
/** A message larger than this (as JSON) is described in its letter, not kept: inputs stay bounded. */
const MAX_MESSAGE_CHARS = 256 * 1024;
const MAX_HISTORY_LINE_CHARS = 4_000;

export interface DeadLetter {
  /** What received it: `celery-bridge`, `stream-bridge`, `pubsub`. */
  source: string;
  /** Where it came from: the Celery queue, the stream or the channel. */
  origin: string;
  reason: string;
  /** The error's stable code, e.g. `UNKNOWN_TASK`, `INVALID_PAYLOAD`, `MESSAGE_UNDECODABLE`. */
  code: string;
  task?: string | undefined;
  /** The message's own id: the Celery task id, the stream entry id. */
  messageId?: string | undefined;
  /** The message as received (decoded where it could be); secrets are masked before it is stored. */
  message: unknown;
  /** The entry's id, when the source has one that says "the same failure" (else derived from the message). */
  id?: string | undefined;
  /** Who it was for, masked (`a***@example.com`). */
  recipient?: string | undefined;
  /** Runs the job had. */
  attempts?: number | undefined;
  /** The error history, oldest first: one line per failed run, then the final stack trace. */
  history?: readonly string[] | undefined;
  /** The failed job itself, for a replay. */
  job?: { queue: string; id: string } | undefined;
}

/** A letter as stored: the job data of each entry of the `dead_letter` queue (snake_case: the wire shape). */
export interface DeadLetterData {
  source: string;
  origin: string;
  reason: string;
  code: string;
  task?: string;
  message_id?: string;
  /** When it was dead-lettered (ISO 8601). */
  received_at: string;
  message: unknown;
  recipient?: string;
  attempts?: number;
  history?: string[];
  job?: { queue: string; id: string };
}

export interface DeadLetters {
  /** The `dead_letter` queue itself, for reading letters back. */
  readonly queue: Queue;
  /** Resolves once every letter is stored; rejects (storing none for sure) when Redis does not answer. */
  add(letters: readonly DeadLetter[]): Promise<void>;
  close(): Promise<void>;
}

export function openDeadLetters(redis: RedisConnection, prefix: string): DeadLetters {
  // The producer's connection settings (fail fast); the queue's settings belong to whoever consumes it.
  const queue = new Queue(DEAD_LETTER_QUEUE, { connection: redis, prefix, skipMetasUpdate: true });
  queue.on('error', () => undefined);
  return {
    queue,
    async add(letters) {
      if (!letters.length) return;
      const receivedAt = new Date().toISOString();
      await queue.addBulk(
        letters.map((letter) => {
          const message = bounded(maskSecrets(letter.message));
          return {
            name: letter.source,
            data: {
              source: letter.source,
              origin: letter.origin,
              reason: letter.reason,
              code: letter.code,
              task: letter.task,
              message_id: letter.messageId,
              received_at: receivedAt,
              message,
              recipient: letter.recipient,
              attempts: letter.attempts,
              history: letter.history?.map((line) => line.slice(0, MAX_HISTORY_LINE_CHARS)),
              job: letter.job,
            } satisfies DeadLetterData & Record<string, unknown>,
            opts: { jobId: letter.id ?? letterId(letter, message) },
          };
        }),
      );
    },
    close: () => queue.close(),
  };
}

function bounded(message: unknown): unknown {
  const size = JSON.stringify(message ?? null).length;
  return size > MAX_MESSAGE_CHARS ? `(${size} characters as JSON, too large to keep)` : message;
}

function letterId(letter: DeadLetter, maskedMessage: unknown): string {
  const identity = JSON.stringify([letter.source, letter.origin, letter.messageId, maskedMessage]);
  return `dl-${createHash('sha256').update(identity).digest('hex').slice(0, 32)}`;
}
