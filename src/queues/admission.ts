/**
 * Whether an email may go to its recipient at all, decided before its ledger claim: not while the address is on
 * the suppression list, not past the task's RECIPIENT_LIMITS. And what a refusal of the address by the SMTP
 * server (a bounce) does to the list.
 */
import { RateLimitedError, SuppressedError } from '../errors.js';
import type { SuppressionList } from '../db/suppressions.js';
import type { RecipientLimits } from './recipient-limits.js';

export interface Admission {
  /** Throws SuppressedError or RateLimitedError (both permanent); a database outage throws its transient error. */
  admit(task: string, recipient: string, key: string): Promise<void>;
  /** The server refused the address for good: it goes on the list for SUPPRESSION_DAYS. False: no list here. */
  bounced(recipient: string, detail: string): Promise<boolean>;
}

export function createAdmission(deps: {
  /** Undefined with the ledger off or no database: nothing is suppressed. */
  suppressions: SuppressionList | undefined;
  limits: RecipientLimits;
  suppressionDays: number;
}): Admission {
  const { suppressions, limits, suppressionDays } = deps;
  return {
    async admit(task, recipient, key) {
      const entry = await suppressions?.find(recipient);
      if (entry) throw new SuppressedError(entry.reason, entry.expires_at ?? undefined);
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
