import { send_welcome_email } from '@email-workers/client/internal';
import { defineTask } from './define-task.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
  ...send_welcome_email,
  handle: sendTemplatedEmail({
    template: 'send_welcome_email',
    echo: () => ({ welcome_sent: true }),
    view: (payload, ctx) => ({ dashboard_url: payload.dashboard_url ?? ctx.defaults.appUrl }),
  }),
  sample: { email: 'ada@example.com', user_data: { username: 'ada', full_name: 'Ada Lovelace' } },
});
