import { z } from 'zod';
import { addressed, integer } from './schemas.js';
import { defineContract } from './define-contract.js';

export const send_otp_verification_email = defineContract({
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
  // The code is for the recipient only: enqueueAndWait and getTaskStatus never show it.
  secret: ['otp'],
  expiresAt: (payload, enqueuedAt) => new Date(enqueuedAt.getTime() + payload.expires_in_minutes * 60_000),
});
