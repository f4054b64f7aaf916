/** The states of a delivery-ledger row (the CHECK constraint of migrations/0001). */
export const DELIVERY_STATUSES = [
  'sending',
  'sent',
  'failed',
  'bounced',
  'expired',
  'suppressed',
  'rate_limited',
  'unknown',
] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
