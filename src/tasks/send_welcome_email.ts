import { defineTask } from './define-task.js';
import { addressed, httpUrl } from './schemas.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
  name: 'send_welcome_email',
  queue: 'auth_emails',
  schema: addressed.extend({ dashboard_url: httpUrl.optional() }),
  priority: 5,
  handle: sendTemplatedEmail({
    template: 'send_welcome_email',
    echo: () => ({ welcome_sent: true }),
    view: (payload, ctx) => ({ dashboard_url: payload.dashboard_url ?? ctx.defaults.appUrl }),
  }),
  sample: { email: 'ada@example.com', user_data: { username: 'ada', full_name: 'Ada Lovelace' } },
});
