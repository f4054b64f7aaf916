/** What a webhook verifier returns, and how it refuses: an HTTP status and a short reason for the sender. */
import type { BounceEvent } from './bounce-events.js';

export interface Verified {
  /** Unique per notification: taken once, a second time is a replay (409). Undefined: nothing to record. */
  receiptId: string | undefined;
  events: BounceEvent[];
}

export class WebhookRefusal extends Error {
  readonly code = 'WEBHOOK_REFUSED';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
