/**
 * What sends an email: one small interface, one file per kind under this folder (smtp.ts, outbox.ts), so a third
 * kind (an HTTP API relay) is one new file. `name` is what the ledger's `relay` column and the metrics record.
 */
import type { Mailer } from '../transport.js';

export interface Transport extends Mailer {
  /** `primary`, `fallback` or `outbox`. */
  readonly name: string;
}
