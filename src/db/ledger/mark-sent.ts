/**
 * Records the SMTP server's acceptance, the very next thing after its 250, for the attempt that holds the claim
 * only. Records of concurrent jobs share one statement; the whole is retried locally, never by BullMQ.
 */
import type { SentRecord } from '../../email-types.js';
import { batched } from '../batch.js';
import { withRetries, type LedgerSql } from './sql.js';

interface SentItem extends SentRecord {
  key: string;
  token: string;
}

export function createMarkSent(sql: LedgerSql) {
  const markSentStatement = sql.prepared(
    `UPDATE ${sql.table} AS d
      SET status = 'sent', message_id = x.m, smtp_response = x.r, subject = x.s, relay = x.relay,
          sent_at = now(), updated_at = now(), lease_until = NULL, last_error = NULL
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
          AS x(k, t, m, r, s, relay)
    WHERE d.idempotency_key = x.k AND d.attempt_token = x.t AND d.status = 'sending'
    RETURNING x.k, x.t`,
  );
  const markSentMany = batched<SentItem, boolean>(async (items) => {
    const { rows } = await markSentStatement<{ k: string; t: string }>([
      items.map((i) => i.key),
      items.map((i) => i.token),
      items.map((i) => i.messageId),
      items.map((i) => i.response),
      items.map((i) => i.subject),
      items.map((i) => i.relay ?? null),
    ]);
    const recorded = new Set(rows.map((row) => `${row.k}\u0000${row.t}`));
    return items.map((i) => recorded.has(`${i.key}\u0000${i.token}`));
  });
  /** False when this attempt no longer holds the row (another took it over, or a person resolved it). */
  return (key: string, token: string, sent: SentRecord): Promise<boolean> =>
    withRetries(() => markSentMany({ key, token, ...sent }));
}
