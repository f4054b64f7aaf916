/**
 * The suppression list (`<schema>.email_suppressions`, migrations/0004): addresses the service does not mail.
 * Addresses are kept in clear, lower-cased, so operators can list and edit them; logs show them masked. An entry
 * with `expires_at` in the past is as good as gone (and is removed when the address is suppressed again).
 */
import type pg from 'pg';
import { toDatabaseError } from './pg-errors.js';

export const SUPPRESSION_REASONS = ['bounce', 'complaint', 'unsubscribe', 'manual'] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

export interface Suppression {
  address: string;
  reason: SuppressionReason;
  /** Who put it there: `smtp`, `webhook:ses`, `cli:ada`, `monitor:ops`, `unsubscribe`. */
  source: string;
  /** The relay's words (a bounce's reply), masked of addresses by the caller. */
  detail: string | null;
  created_at: Date;
  expires_at: Date | null;
}

export interface SuppressionEntry {
  address: string;
  reason: SuppressionReason;
  source: string;
  detail?: string | undefined;
  /** Days until it lapses; undefined: for good. */
  days?: number | undefined;
}

/** Soft bounces within this many days … */
const SOFT_BOUNCE_WINDOW_DAYS = 7;
/** … that suppress an address. */
export const SOFT_BOUNCES_TO_SUPPRESS = 3;

/** Addresses are compared without case: `Ada@Example.com` and `ada@example.com` are one mailbox in practice. */
export function normalizeAddress(address: string): string {
  return address.trim().toLowerCase();
}

export function createSuppressionList(pool: pg.Pool, schema: string) {
  const quoted = `"${schema.replace(/"/g, '""')}"`;
  const table = `${quoted}.email_suppressions`;
  const query = async <R extends pg.QueryResultRow>(text: string, values: unknown[]) => {
    try {
      return await pool.query<R>(text, values);
    } catch (error) {
      throw toDatabaseError(error, `the suppression list ${table}`);
    }
  };
  return {
    /** The address's entry while it is in force. (A send asks in its ledger claim: ledger/claim.ts.) */
    async find(address: string): Promise<Suppression | undefined> {
      const { rows } = await query<Suppression>(
        `SELECT * FROM ${table} WHERE address = $1 AND (expires_at IS NULL OR expires_at > now())`,
        [normalizeAddress(address)],
      );
      return rows[0];
    },
    /**
     * Adds the address, or renews its entry. A lasting entry (a complaint, an unsubscribe) is never shortened by
     * a later bounce with a term.
     */
    async add(entry: SuppressionEntry): Promise<Suppression> {
      const { rows } = await query<Suppression>(
        `INSERT INTO ${table} AS s (address, reason, source, detail, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(days => $5::int))
         ON CONFLICT (address) DO UPDATE SET
           reason = EXCLUDED.reason, source = EXCLUDED.source, detail = EXCLUDED.detail, created_at = now(),
           expires_at = EXCLUDED.expires_at
         WHERE NOT (s.expires_at IS NULL AND EXCLUDED.expires_at IS NOT NULL)
         RETURNING *`,
        [
          normalizeAddress(entry.address),
          entry.reason,
          entry.source.slice(0, 200),
          entry.detail?.slice(0, 1000) ?? null,
          entry.days ?? null,
        ],
      );
      if (!rows[0]) return (await this.find(entry.address))!;
      return rows[0]!;
    },
    /** True when there was an entry to remove. */
    async remove(address: string): Promise<boolean> {
      const { rowCount } = await query(`DELETE FROM ${table} WHERE address = $1`, [
        normalizeAddress(address),
      ]);
      return (rowCount ?? 0) > 0;
    },
    /** Entries in force, newest first; `search` matches part of the address. */
    async list({ limit = 100, search }: { limit?: number; search?: string | undefined } = {}): Promise<
      Suppression[]
    > {
      const { rows } = await query<Suppression>(
        `SELECT * FROM ${table}
          WHERE (expires_at IS NULL OR expires_at > now()) AND ($2::text IS NULL OR address LIKE '%' || $2 || '%')
          ORDER BY created_at DESC LIMIT $1`,
        [Math.min(Math.max(1, limit), 10_000), search ? normalizeAddress(search) : null],
      );
      return rows;
    },
    /** Records a soft bounce; returns how many the address had within the last 7 days, this one included. */
    async recordSoftBounce(address: string): Promise<number> {
      const { rows } = await query<{ count: string }>(
        `WITH added AS (INSERT INTO ${quoted}.email_soft_bounces (address) VALUES ($1) RETURNING address)
         SELECT 1 + count(*) AS count FROM ${quoted}.email_soft_bounces
          WHERE address = $1 AND received_at > now() - make_interval(days => $2)`,
        [normalizeAddress(address), SOFT_BOUNCE_WINDOW_DAYS],
      );
      return Number(rows[0]?.count ?? 1);
    },
    /**
     * Notes a webhook notification as taken; false when it was taken before (a replay). Receipts older than a day
     * are dropped on the way: a notification's own timestamp refuses anything that old.
     */
    async takeReceipt(provider: string, receiptId: string): Promise<boolean> {
      await query(
        `DELETE FROM ${quoted}.email_webhook_receipts WHERE received_at < now() - interval '1 day'`,
        [],
      );
      const { rowCount } = await query(
        `INSERT INTO ${quoted}.email_webhook_receipts (provider, receipt_id) VALUES ($1, $2)
         ON CONFLICT DO NOTHING`,
        [provider, receiptId.slice(0, 200)],
      );
      return (rowCount ?? 0) > 0;
    },
  };
}

export type SuppressionList = ReturnType<typeof createSuppressionList>;
