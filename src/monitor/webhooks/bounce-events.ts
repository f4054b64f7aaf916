/**
 * What every bounce webhook comes down to, whatever the relay: events naming an address and, when the relay
 * says, the Message-ID of the email. A hard bounce marks the email `bounced` in the ledger and suppresses the
 * address for SUPPRESSION_DAYS; a complaint suppresses it for good at once; a soft bounce only counts, and the
 * third within 7 days suppresses like a hard one.
 */
import type { Ledger } from '../../db/ledger/index.js';
import { SOFT_BOUNCES_TO_SUPPRESS, type SuppressionList } from '../../db/suppressions.js';
import { maskEmail, maskEmailsIn, type Logger } from '../../logger.js';

export interface BounceEvent {
  kind: 'hard' | 'soft' | 'complaint';
  address: string;
  messageId?: string | undefined;
  /** The relay's words (a diagnostic code, a description). */
  detail?: string | undefined;
}

export interface BounceSink {
  suppressions: SuppressionList;
  ledger: Ledger | undefined;
  suppressionDays: number;
  logger: Logger;
}

/** At most this many events in one notification: inputs are bounded. */
export const MAX_EVENTS = 1_000;

const ADDRESS = /^[^\s@]{1,200}@[^\s@]{1,200}$/;

export function isAddress(value: unknown): value is string {
  return typeof value === 'string' && ADDRESS.test(value.trim());
}

/** Applies the events; returns how many addresses it suppressed. */
export async function applyBounceEvents(
  provider: string,
  events: readonly BounceEvent[],
  sink: BounceSink,
): Promise<number> {
  let suppressed = 0;
  for (const event of events) {
    const detail = maskEmailsIn(event.detail ?? '').slice(0, 1000) || undefined;
    if (event.kind === 'hard' && event.messageId)
      await sink.ledger?.markBounced(event.messageId, detail ?? `${provider}: bounced`);
    const soft = event.kind === 'soft' ? await sink.suppressions.recordSoftBounce(event.address) : 0;
    if (event.kind === 'soft' && soft < SOFT_BOUNCES_TO_SUPPRESS) continue;
    await sink.suppressions.add({
      address: event.address,
      reason: event.kind === 'complaint' ? 'complaint' : 'bounce',
      source: `webhook:${provider}`,
      detail,
      days: event.kind === 'complaint' ? undefined : sink.suppressionDays,
    });
    suppressed++;
    sink.logger.warn(
      { provider, kind: event.kind, to: maskEmail(event.address) },
      `address suppressed: ${event.kind === 'soft' ? `${soft} soft bounces` : event.kind}`,
    );
  }
  return suppressed;
}
