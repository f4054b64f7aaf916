import { addressed, httpUrl } from './schemas.js';
import { defineContract } from './define-contract.js';

export const send_welcome_email = defineContract({
  name: 'send_welcome_email',
  queue: 'auth_emails',
  schema: addressed.extend({ dashboard_url: httpUrl.optional() }),
  priority: 5,
});
