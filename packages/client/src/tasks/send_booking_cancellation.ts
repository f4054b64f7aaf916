import { z } from 'zod';
import { amount, byUserId, currency, integer, longText, shortText } from './schemas.js';
import { defineContract } from './define-contract.js';

export const send_booking_cancellation = defineContract({
  name: 'send_booking_cancellation',
  queue: 'booking_emails',
  schema: byUserId.extend({
    cancellation_data: z
      .object({
        event_name: shortText.default('Event'),
        booking_id: z.union([shortText, z.number()]).optional(),
        refund_amount: amount.optional(),
        reason: longText.optional(),
        currency: currency.optional(),
        refund_expected_days: integer(0, 365).optional(),
      })
      // Python's `None` (like an absent object) means every default, as in the old service.
      .prefault({}),
  }),
});
