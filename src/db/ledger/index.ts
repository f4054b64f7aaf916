/**
 * The delivery ledger (`<schema>.email_deliveries`): every email traced, and the claim that keeps one from being
 * sent twice. One file per statement; each state change after a claim applies only for the attempt holding it.
 */
import type pg from 'pg';
import { createClaim } from './claim.js';
import { createList } from './list.js';
import { createMarkBounced } from './mark-bounced.js';
import { createMarkExpired } from './mark-expired.js';
import { createMarkFailed } from './mark-failed.js';
import { createMarkRefused } from './mark-refused.js';
import { createMarkSent } from './mark-sent.js';
import { createMarkUnknown } from './mark-unknown.js';
import { createCountOlderThan, createPurge } from './purge.js';
import { createResolve } from './resolve.js';
import { ledgerSql } from './sql.js';
import { createTakeOver } from './take-over.js';

export { DELIVERY_STATUSES, type DeliveryStatus } from '../delivery-statuses.js';
export type { Resolution } from './resolve.js';
export type * from './types.js';

export function createLedger(pool: pg.Pool, schema: string) {
  const sql = ledgerSql(pool, schema);
  return {
    /** Claims the key for this attempt (`token`: its BullMQ lock token), or says who holds it and how. */
    claim: createClaim(sql),
    takeOver: createTakeOver(sql),
    markSent: createMarkSent(sql),
    markFailed: createMarkFailed(sql),
    markUnknown: createMarkUnknown(sql),
    markExpired: createMarkExpired(sql),
    markRefused: createMarkRefused(sql),
    markBounced: createMarkBounced(sql),
    resolve: createResolve(sql),
    list: createList(sql),
    purge: createPurge(sql),
    countOlderThan: createCountOlderThan(sql),
    /** Answers when the ledger's table is there and the database reachable: the circuit breaker's probe. */
    async probe(): Promise<void> {
      await sql.query(`SELECT 1 FROM ${sql.table} LIMIT 0`, []);
    },
  };
}

export type Ledger = ReturnType<typeof createLedger>;
