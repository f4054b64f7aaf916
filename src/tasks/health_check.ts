import { defineTask } from './define-task.js';
import { common } from './schemas.js';

export default defineTask({
  name: 'health_check',
  queue: 'system',
  schema: common,
  // A health probe answers now or not at all.
  retry: { attempts: 1 },
  handle: (_payload, ctx) => ctx.checkHealth(),
  sample: {},
});
