/**
 * The `dead_letter` queue: messages a bridge could not turn into a task (an unknown task, a payload that fails
 * validation, a serializer other than JSON, a body that does not parse), kept with the reason and the message
 * as received, secrets masked, for a person to look at. Nothing consumes it yet; issue 12 builds on it.
 *
 * Each entry is a BullMQ job named after its source, with data
 * `{ source, origin, reason, code, task?, message_id?, received_at, message }` and an id derived from the message,
 * so the same message dead-lettered twice (a bridge killed before its acknowledgement) is one entry.
 */
import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import { maskSecrets } from '../logger.js';
import type { RedisConnection } from './connection.js';

export const DEAD_LETTER_QUEUE = 'dead_letter';
/** A message larger than this (as JSON) is described in its letter, not kept: inputs stay bounded. */
const MAX_MESSAGE_CHARS = 256 * 1024;

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
}

export interface DeadLetters {
  /** Resolves once every letter is stored; rejects (storing none for sure) when Redis does not answer. */
  add(letters: readonly DeadLetter[]): Promise<void>;
  close(): Promise<void>;
}

export function openDeadLetters(redis: RedisConnection, prefix: string): DeadLetters {
  // The producer's connection settings (fail fast); the queue's settings belong to whoever consumes it.
  const queue = new Queue(DEAD_LETTER_QUEUE, { connection: redis, prefix, skipMetasUpdate: true });
  queue.on('error', () => undefined);
  return {
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
            },
            opts: { jobId: letterId(letter, message) },
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
