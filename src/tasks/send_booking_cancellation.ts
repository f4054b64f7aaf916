import { send_booking_cancellation } from '@email-workers/client/internal';
import { defineTask } from './define-task.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
  ...send_booking_cancellation,
  // A second confirmation of money is confusing: an uncertain delivery waits for a person.
  uncertainDelivery: 'mark_unknown',
  handle: sendTemplatedEmail({
    template: 'send_booking_cancellation',
    echo: (payload) => ({ user_id: payload.user_id, booking_id: payload.cancellation_data.booking_id }),
    view: (payload, ctx) => ({ currency: payload.cancellation_data.currency ?? ctx.defaults.currency }),
  }),
  sample: {
    user_id: 42,
    cancellation_data: {
      event_name: 'JSConf EU',
      booking_id: 'BK-10293',
      refund_amount: '149.50',
      reason: 'The event was moved to a date you cannot attend.',
      refund_expected_days: 5,
    },
  },
});
