/**
 * Whether an email may go to its recipient, decided before its ledger claim: not past the task's RECIPIENT_LIMITS.
 * (The suppression list is read by the claim itself, in the same statement: ../db/ledger/claim.ts.) And what a
 * refusal of the address by the SMTP server (a bounce) does to the list.
 */
import { RateLimitedError } from '../errors.js';
import type { SuppressionList } from '../db/suppressions.js';
import type { RecipientLimits } from './recipient-limits.js';

export interface Admission {
  /** Throws RateLimitedError (permanent); a Redis outage throws its transient error. */
  admit(task: string, recipient: string, key: string): Promise<void>;
  /** The server refused the address for good: it goes on the list for SUPPRESSION_DAYS. False: no list here. */
  bounced(recipient: string, detail: string): Promise<boolean>;
}

export function createAdmission(deps: {
  /** Undefined with the ledger off or no database: no bounce suppresses anyone. */
  suppressions: SuppressionList | undefined;
  limits: RecipientLimits;
  suppressionDays: number;
}): Admission {
  const { suppressions, limits, suppressionDays } = deps;
  return {
    async admit(task, recipient, key) {
      if (!(await limits.take(task, recipient, key))) throw new RateLimitedError(limits.limitOf(task)!.label);
    },
    async bounced(recipient, detail) {
      if (!suppressions) return false;
      await suppressions.add({
        address: recipient,
        reason: 'bounce',
        source: 'smtp',
        detail,
        days: suppressionDays,
      });
      return true;
    },
  };
}
