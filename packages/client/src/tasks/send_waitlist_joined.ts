import { z } from 'zod';
import { byUserId, count, dateText, shortText, today } from './schemas.js';
import { defineContract } from './define-contract.js';

export const send_waitlist_joined = defineContract({
  name: 'send_waitlist_joined',
  queue: 'waitlist_emails',
  schema: byUserId.extend({
    waitlist_data: z
      .object({
        event_name: shortText.default('Event'),
        position: count.prefault(1),
        joined_date: dateText.default(today),
      })
      // Python's `None` (like an absent object) means every default, as in the old service.
      .prefault({}),
  }),
});
