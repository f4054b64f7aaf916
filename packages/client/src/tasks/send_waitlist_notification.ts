import { z } from 'zod';
import { byUserId, count, httpUrl, integer, shortText } from './schemas.js';
import { defineContract } from './define-contract.js';

export const send_waitlist_notification = defineContract({
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
});
