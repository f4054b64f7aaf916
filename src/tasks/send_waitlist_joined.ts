import { z } from 'zod';
import { defineTask } from './define-task.js';
import { byUserId, count, dateText, shortText, today } from './schemas.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
  name: 'send_waitlist_joined',
  queue: 'waitlist_emails',
  schema: byUserId.extend({
    waitlist_data: z
      .object({
        event_name: shortText.default('Event'),
        position: count.prefault(1),
        joined_date: dateText.default(today),
      })
      // Python's `None` (like an absent object) means every default, as in the old service.
      .prefault({}),
  }),
  handle: sendTemplatedEmail({
    template: 'send_waitlist_joined',
    echo: (payload) => ({ user_id: payload.user_id, position: payload.waitlist_data.position }),
  }),
  sample: {
    user_id: 42,
    waitlist_data: { event_name: 'JSConf EU', position: 3, joined_date: '2026-04-02T10:15:00Z' },
  },
});
