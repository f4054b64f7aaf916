import { z } from 'zod';
import { defineTask } from './define-task.js';
import { byUserId, count, httpUrl, shortText } from './schemas.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
  name: 'send_waitlist_notification',
  queue: 'waitlist_emails',
  schema: byUserId.extend({
    waitlist_data: z.object({
      event_name: shortText.default('Event'),
      position: count.default(1),
      expiry_minutes: z.coerce.number().int().min(1).max(10_080).default(30),
      claim_url: httpUrl.optional(),
    }),
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
