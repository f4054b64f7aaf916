/**
 * Emails the SMTP server accepted while the database could not record them. The ledger's `sent` write is retried
 * for a few seconds right after the 250; past that (a failover, an outage that began at the wrong moment) the
 * record waits here, in Redis, until the database answers again — written by the maintenance timer, or at once
 * by a later claim of the same key, which must find the email sent rather than take it for a lost attempt.
 */
import type { Ledger } from '../db/ledger/index.js';
import type { SentRecord } from '../email-types.js';
import type { RedisConnection } from './connection.js';

interface Unrecorded extends SentRecord {
  /** The attempt that sent it: the ledger row still carries its token. */
  token: string;
}

export interface UnrecordedSends {
  keep(key: string, token: string, sent: SentRecord): Promise<void>;
  /**
   * Records the one kept for `key`, if any; resolves with it when the ledger now says sent. Throws when the
   * database is still out.
   */
  record(key: string): Promise<SentRecord | undefined>;
  /** Records every one kept; returns how many were written. Throws when the database is still out. */
  recordAll(): Promise<number>;
}

export function unrecordedSends(redis: RedisConnection, hashKey: string, ledger: Ledger): UnrecordedSends {
  const write = async (key: string, kept: Unrecorded): Promise<boolean> => {
    const recorded = await ledger.markSent(key, kept.token, kept);
    // Written, or the row was taken over or resolved meanwhile: either way this record has done what it can.
    await redis.hdel(hashKey, key);
    return recorded;
  };
  return {
    async keep(key, token, sent) {
      const kept: Unrecorded = {
        token,
        messageId: sent.messageId,
        response: sent.response,
        subject: sent.subject,
      };
      await redis.hset(hashKey, key, JSON.stringify(kept));
    },
    async record(key) {
      const raw = await redis.hget(hashKey, key);
      if (!raw) return undefined;
      const kept = JSON.parse(raw) as Unrecorded;
      return (await write(key, kept)) ? kept : undefined;
    },
    async recordAll() {
      let written = 0;
      for (const [key, raw] of Object.entries(await redis.hgetall(hashKey))) {
        if (await write(key, JSON.parse(raw) as Unrecorded)) written++;
      }
      return written;
    },
  };
}
