/** Rows for a person (the `deliveries` command, the monitor), newest first. */
import type { LedgerSql } from './sql.js';
import type { DeliveryFilter, DeliveryRow } from './types.js';

export const DELIVERY_ROW_COLUMNS = `id::text, idempotency_key, job_id, queue, task, recipient, subject, status,
  attempts, message_id, smtp_response, last_error, correlation_id, created_at, updated_at, sent_at, resolved_by,
  resolved_at, relay`;

export function createList(sql: LedgerSql) {
  return async (filter: DeliveryFilter): Promise<DeliveryRow[]> => {
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      values.push(value);
      where.push(clause.replace('?', `$${values.length}`));
    };
    if (filter.recipient) add('lower(recipient) = lower(?)', filter.recipient);
    if (filter.status) add('status = ?', filter.status);
    if (filter.task) add('task = ?', filter.task);
    if (filter.since) add('created_at >= ?', filter.since);
    if (filter.key) add('idempotency_key = ?', filter.key);
    values.push(filter.limit ?? 50);
    const { rows } = await sql.query<DeliveryRow>(
      `SELECT ${DELIVERY_ROW_COLUMNS}
         FROM ${sql.table} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY created_at DESC LIMIT $${values.length}`,
      values,
    );
    return rows;
  };
}
