/**
 * Bull Board over every queue of the contract, twice: the operator's (pause, resume, retry, promote, clean) and
 * the viewer's (every queue adapter read-only, so the UI shows no buttons and the server refuses changes). Job
 * data and results pass through the formatters of redact.ts, and every other body (failed reasons, stack
 * traces, logs, options) through an `after` hook, so nothing on screen carries an OTP code or an address.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Router } from 'express';
import { redactDeep, redactJobValue } from './redact.js';

export interface BoardOptions {
  /** Where the board is mounted, e.g. `/monitor/queues`. */
  basePath: string;
  title: string;
  /** Links to the monitor's own pages, shown in the board's menu. */
  links: Array<{ text: string; url: string }>;
}

/**
 * Routes that write a job's data: the board would write back what it shows, which is redacted. Jobs are added
 * by producers and the task API, never from a screen.
 */
const DATA_WRITES = new Set(['/api/queues/:queueName/add', '/api/queues/:queueName/:jobId/update-data']);

export function createBoards(
  queues: readonly Queue[],
  options: BoardOptions,
): Record<'operator' | 'viewer', Router> {
  const board = (readOnlyMode: boolean): Router => {
    const serverAdapter = new ExpressAdapter().setBasePath(options.basePath);
    createBullBoard({
      queues: queues.map((queue) => {
        const adapter = new BullMQAdapter(queue, { readOnlyMode, allowRetries: !readOnlyMode });
        adapter.setFormatter('data', (data: unknown) => redactJobValue(data));
        adapter.setFormatter('returnValue', (value: unknown) => redactJobValue(value));
        return adapter;
      }),
      serverAdapter,
      options: {
        uiConfig: { boardTitle: options.title, miscLinks: options.links, hideDocsLink: true },
        handlerHooks: {
          before: ({ route }) =>
            DATA_WRITES.has(route)
              ? { allow: false, status: 403, message: 'job data is shown redacted and cannot be edited here' }
              : { allow: true },
          after: (_context, result) => ({ ...result, body: redactDeep(result.body) }) as typeof result,
        },
      },
    });
    return serverAdapter.getRouter() as Router;
  };
  return { operator: board(false), viewer: board(true) };
}
