/**
 * The accounting of a scenario: what became of each acknowledged enqueue (delivered, failed with a stated reason,
 * or lost), the extra copies, and whether the ledger agrees with what the SMTP server accepted.
 */
import type { Job } from 'bullmq';
import type { QueueName } from '../../../src/tasks/define-task.js';
import type { TestSchema } from '../../helpers/postgres.js';

export interface Enqueued {
  /** The ledger's idempotency key (the job id for the client's jobs). */
  key: string;
  jobId: string;
  task: string;
  queue: QueueName;
  /** Undefined for a job whose task is unknown (it sends nothing). */
  messageId: string | undefined;
  ackAt: number;
  via: 'client' | 'raw';
}

export interface Outcomes {
  /** Acknowledged emails accepted at least once. */
  delivered: number;
  /** Not delivered, and failed with a reason. */
  failed: number;
  failedReasons: Record<string, number>;
  /** Neither: with the state BullMQ has for them (`missing` when Redis has no such job). */
  lostKeys: string[];
  /** Accepted copies beyond the first. */
  duplicates: number;
  duplicateKeys: string[];
}

export async function countOutcomes(
  enqueued: Iterable<Enqueued>,
  copiesOf: ReadonlyMap<string, number>,
  jobOf: (entry: Enqueued) => Promise<Job | undefined>,
): Promise<Outcomes> {
  const outcomes: Outcomes = {
    delivered: 0,
    failed: 0,
    failedReasons: {},
    lostKeys: [],
    duplicates: 0,
    duplicateKeys: [],
  };
  for (const entry of enqueued) {
    const copies = entry.messageId ? (copiesOf.get(entry.messageId) ?? 0) : 0;
    if (copies > 1) {
      outcomes.duplicates += copies - 1;
      outcomes.duplicateKeys.push(entry.key);
    }
    if (copies > 0) {
      outcomes.delivered++;
      continue;
    }
    const job = await jobOf(entry);
    const state = job ? await job.getState() : 'missing';
    if (state === 'failed' && job?.failedReason) {
      outcomes.failed++;
      const reason = reasonKind(job.failedReason);
      outcomes.failedReasons[reason] = (outcomes.failedReasons[reason] ?? 0) + 1;
    } else if (!(state === 'completed' && !entry.messageId)) {
      // A job that sends nothing (an unknown task, health_check) is done when it completes.
      outcomes.lostKeys.push(`${entry.key} (${state})`);
    }
  }
  return outcomes;
}

/** Ledger rows by status, and every email for which `sent` and "accepted by the server" disagree. */
export async function checkLedger(
  schema: TestSchema,
  enqueued: Iterable<Enqueued>,
  copiesOf: ReadonlyMap<string, number>,
): Promise<{ byStatus: Record<string, number>; mismatches: string[] }> {
  const { rows } = await schema.pool.query<{
    idempotency_key: string;
    status: string;
    message_id: string | null;
  }>(`SELECT idempotency_key, status, message_id FROM ${schema.schema}.email_deliveries`);
  const byStatus: Record<string, number> = {};
  for (const row of rows) byStatus[row.status] = (byStatus[row.status] ?? 0) + 1;
  const rowOf = new Map(rows.map((row) => [row.idempotency_key, row]));
  const mismatches: string[] = [];
  for (const entry of enqueued) {
    if (!entry.messageId) continue;
    const row = rowOf.get(entry.key);
    const delivered = copiesOf.has(entry.messageId);
    if (delivered !== (row?.status === 'sent')) {
      mismatches.push(
        `${entry.key}: ${delivered ? 'delivered' : 'not delivered'}, row ${row?.status ?? 'missing'}`,
      );
    } else if (row?.status === 'sent' && row.message_id !== entry.messageId) {
      mismatches.push(`${entry.key}: row's message id ${row.message_id} is not ${entry.messageId}`);
    }
  }
  return { byStatus, mismatches };
}

/** A failed reason by kind: up to its first colon, numbers and hashes blanked, so the figures can count them. */
function reasonKind(reason: string): string {
  return (reason.split(':')[0] ?? reason)
    .replace(/\b[0-9a-f]{8,}\b/g, '…')
    .replace(/\d+/g, 'N')
    .slice(0, 80);
}
