import { health_check } from '@email-workers/client/internal';
import { defineTask } from './define-task.js';

export default defineTask({
  ...health_check,
  handle: (_payload, ctx) => ctx.checkHealth(),
  sample: {},
});
