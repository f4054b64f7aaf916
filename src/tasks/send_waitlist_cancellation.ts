import { send_waitlist_cancellation } from '@email-workers/client/internal';
import { defineTask } from './define-task.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
  ...send_waitlist_cancellation,
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
