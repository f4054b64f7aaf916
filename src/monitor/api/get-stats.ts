/** `GET /api/stats`: counts per queue and in total, the task list, the live workers. */
import { listWorkers } from '../../queues/heartbeat.js';
import { QUEUE_NAMES, type QueueName } from '../../tasks/define-task.js';
import { TASK_NAMES, tasks } from '../../tasks/registry.js';
import type { ApiHandler } from './context.js';

type Counts = { waiting: number; active: number; delayed: number; completed: number; failed: number };

export const getStats: ApiHandler = async (_request, context) => {
  const perQueue = await Promise.all(
    QUEUE_NAMES.map(async (name): Promise<[QueueName, Counts]> => {
      const c = await context.queues
        .get(name)
        .getJobCounts('wait', 'prioritized', 'active', 'delayed', 'completed', 'failed');
      return [
        name,
        {
          waiting: (c.wait ?? 0) + (c.prioritized ?? 0),
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
          completed: c.completed ?? 0,
          failed: c.failed ?? 0,
        },
      ];
    }),
  );
  const total: Counts = { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 };
  for (const [, counts] of perQueue) {
    for (const key of Object.keys(total) as Array<keyof Counts>) total[key] += counts[key];
  }
  const workers = (await listWorkers(context.redis, context.config.redis)).filter((w) => w.alive);
  return {
    status: 200,
    body: {
      queues: Object.fromEntries(perQueue),
      total,
      tasks: TASK_NAMES.map((name) => ({ name, queue: tasks[name].queue })),
      workers: workers.map((w) => ({
        id: w.id,
        kind: w.kind,
        name: w.name,
        host: w.host,
        pid: w.pid,
        queues: w.queues,
        concurrency: w.concurrency,
        uptime_s: w.uptime_s,
        jobs_processed: w.jobs_processed,
        jobs_failed: w.jobs_failed,
        last_heartbeat: w.last_heartbeat,
      })),
    },
  };
};
