/**
 * The action behind `/deliveries`' buttons: a person settles a delivery the ledger marks `unknown`, either as
 * sent (the mail server's log shows it) or to be sent again. The ledger function comes with
 * `start-workers deliveries resolve KEY --sent|--resend`; until then the page answers 501.
 */
export type Resolution = 'sent' | 'resend';

/** `who` is the login that decided, recorded with the resolution. */
export type ResolveDelivery = (key: string, resolution: Resolution, who: string) => Promise<void>;

export class ResolveNotAvailableError extends Error {
  constructor() {
    super('resolving a delivery is not available yet: it comes with `start-workers deliveries resolve`');
  }
}

export const resolveNotAvailable: ResolveDelivery = () => Promise.reject(new ResolveNotAvailableError());
