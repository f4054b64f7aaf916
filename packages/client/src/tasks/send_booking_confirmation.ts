import { z } from 'zod';
import { amount, byUserId, count, currency, dateText, longText, shortText, today } from './schemas.js';
import { defineContract } from './define-contract.js';

export const send_booking_confirmation = defineContract({
  name: 'send_booking_confirmation',
  queue: 'booking_emails',
  schema: byUserId.extend({
    booking_data: z
      .object({
        event_name: shortText.default('Event'),
        booking_id: z.union([shortText, z.number()]).optional(),
        quantity: count.prefault(1),
        total_price: amount.optional(),
        booking_date: dateText.default(today),
        event_date: dateText.optional(),
        venue: longText.optional(),
        currency: currency.optional(),
      })
      // Python's `None` (like an absent object) means every default, as in the old service.
      .prefault({}),
  }),
});
