import { z } from 'zod';
import { defineTask } from './define-task.js';
import { byUserId, count, httpUrl, integer, shortText } from './schemas.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
  name: 'send_waitlist_notification',
  queue: 'waitlist_emails',
  schema: byUserId.extend({
    waitlist_data: z
      .object({
        event_name: shortText.default('Event'),
        position: count.prefault(1),
        expiry_minutes: integer(1, 10_080).prefault(30),
        claim_url: httpUrl.optional(),
      })
      // Python's `None` (like an absent object) means every default, as in the old service.
      .prefault({}),
  }),
  // An offer nobody can claim any more is worse than none.
  expiresAt: (payload, enqueuedAt) =>
    new Date(enqueuedAt.getTime() + payload.waitlist_data.expiry_minutes * 60_000),
  handle: sendTemplatedEmail({
    template: 'send_waitlist_notification',
    echo: (payload) => ({ user_id: payload.user_id, waitlist_position: payload.waitlist_data.position }),
    view: (payload, ctx) => ({
      claim_url: payload.waitlist_data.claim_url ?? ctx.defaults.appUrl,
      claim_deadline: new Date(
        ctx.job.enqueuedAt.getTime() + payload.waitlist_data.expiry_minutes * 60_000,
      ).toISOString(),
    }),
  }),
  sample: { user_id: 42, waitlist_data: { event_name: 'JSConf EU', position: 1, expiry_minutes: 30 } },
});
