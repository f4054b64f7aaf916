import { send_waitlist_notification } from '@email-workers/client/internal';
import { defineTask } from './define-task.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
  ...send_waitlist_notification,
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
