import { send_booking_confirmation } from '@email-workers/client/internal';
import { defineTask } from './define-task.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
  ...send_booking_confirmation,
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
