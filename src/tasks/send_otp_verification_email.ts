import { send_otp_verification_email } from '@email-workers/client/internal';
import { defineTask } from './define-task.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
  ...send_otp_verification_email,
  handle: sendTemplatedEmail({
    template: 'send_otp_verification_email',
    echo: () => ({ otp_sent: true }),
  }),
  sample: {
    email: 'ada@example.com',
    otp: '482913',
    user_data: { username: 'ada', full_name: 'Ada Lovelace' },
  },
});
