import { z } from 'zod';
import { defineTask } from './define-task.js';
import { addressed, integer } from './schemas.js';
import { sendTemplatedEmail } from './send-templated-email.js';

export default defineTask({
  name: 'send_otp_verification_email',
  queue: 'auth_emails',
  schema: addressed.extend({
    // Python producers may send the code as an int; a leading zero is only kept as a string.
    otp: z
      .union([z.string().trim(), z.number().int().nonnegative()])
      .transform((v) => String(v))
      .pipe(z.string().regex(/^\d{4,10}$/, 'expected 4 to 10 digits')),
    expires_in_minutes: integer(1, 1440).prefault(10),
  }),
  priority: 1,
  expiresAt: (payload, enqueuedAt) => new Date(enqueuedAt.getTime() + payload.expires_in_minutes * 60_000),
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
