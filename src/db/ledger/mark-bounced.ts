/**
 * A bounce reported after the relay accepted the email (a webhook naming its Message-ID): the sent row becomes
 * `bounced`, with the relay's words. Returns the recipient of the email it found, if any.
 */
import type { LedgerSql } from './sql.js';

export function createMarkBounced(sql: LedgerSql) {
  return async (messageId: string, detail: string): Promise<{ recipient: string | null } | undefined> => {
    const { rows } = await sql.query<{ recipient: string | null }>(
      `UPDATE ${sql.table} SET status = 'bounced', last_error = $2, updated_at = now()
        WHERE message_id = $1 AND status IN ('sent', 'bounced')
        RETURNING recipient`,
      [normalizeMessageId(messageId), detail.slice(0, 2000)],
    );
    return rows[0];
  };
}

/** The ledger keeps Message-IDs in angle brackets, as nodemailer reports them; relays may strip them. */
export function normalizeMessageId(messageId: string): string {
  const bare = messageId.trim().replace(/^<|>$/g, '');
  return `<${bare}>`;
}
