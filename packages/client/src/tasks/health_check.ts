import { common } from './schemas.js';
import { defineContract } from './define-contract.js';

export const health_check = defineContract({
  name: 'health_check',
  queue: 'system',
  schema: common,
  // A health probe answers now or not at all.
  retry: { attempts: 1 },
});
