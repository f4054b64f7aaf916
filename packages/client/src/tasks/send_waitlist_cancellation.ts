import { z } from 'zod';
import { byUserId, dateText, httpUrl, shortText, today } from './schemas.js';
import { defineContract } from './define-contract.js';

export const send_waitlist_cancellation = defineContract({
  name: 'send_waitlist_cancellation',
  queue: 'waitlist_emails',
  schema: byUserId.extend({
    waitlist_data: z
      .object({
        event_name: shortText.default('Event'),
        cancellation_date: dateText.default(today),
        rejoin_url: httpUrl.optional(),
      })
      // Python's `None` (like an absent object) means every default, as in the old service.
      .prefault({}),
  }),
});
