import { z } from 'zod';
import { defineTask } from './define-task.js';
import { amount, byUserId, count, currency, dateText, longText, shortText, today } from './schemas.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
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
  // A second confirmation of money is confusing: an uncertain delivery waits for a person.
  uncertainDelivery: 'mark_unknown',
  handle: sendTemplatedEmail({
    template: 'send_booking_confirmation',
    echo: (payload) => ({ user_id: payload.user_id, booking_id: payload.booking_data.booking_id }),
    view: (payload, ctx) => ({ currency: payload.booking_data.currency ?? ctx.defaults.currency }),
  }),
  sample: {
    user_id: 42,
    booking_data: {
      event_name: 'JSConf EU',
      booking_id: 'BK-10293',
      quantity: 2,
      total_price: 149.5,
      booking_date: '2026-04-02T10:15:00Z',
      event_date: '2026-05-01T18:00:00Z',
      venue: 'Arena Berlin, Eichenstraße 4, Berlin',
    },
  },
});
