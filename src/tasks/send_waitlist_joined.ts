import { send_waitlist_joined } from '@email-workers/client/internal';
import { defineTask } from './define-task.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
  ...send_waitlist_joined,
  handle: sendTemplatedEmail({
    template: 'send_waitlist_joined',
    echo: (payload) => ({ user_id: payload.user_id, position: payload.waitlist_data.position }),
  }),
  sample: {
    user_id: 42,
    waitlist_data: { event_name: 'JSConf EU', position: 3, joined_date: '2026-04-02T10:15:00Z' },
  },
});
