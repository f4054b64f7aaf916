import { z } from 'zod';
import { defineTask } from './define-task.js';
import { byUserId, dateText, httpUrl, shortText, today } from './schemas.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
  name: 'send_waitlist_cancellation',
  queue: 'waitlist_emails',
  schema: byUserId.extend({
    waitlist_data: z
      .object({
        event_name: shortText.default('Event'),
        cancellation_date: dateText.default(today),
        rejoin_url: httpUrl.optional(),
      })
      // Python's `None` (like an absent object) means every default, as in the old service.
      .prefault({}),
  }),
  handle: sendTemplatedEmail({
    template: 'send_waitlist_cancellation',
    echo: (payload) => ({ user_id: payload.user_id }),
    view: (payload, ctx) => ({ rejoin_url: payload.waitlist_data.rejoin_url ?? ctx.defaults.appUrl }),
  }),
  sample: {
    user_id: 42,
    waitlist_data: { event_name: 'JSConf EU', cancellation_date: '2026-04-03T08:00:00Z' },
  },
});
