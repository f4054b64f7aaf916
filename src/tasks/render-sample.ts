/**
 * Runs an email task's real handler on a payload with a context that captures the message instead of sending
 * it: what start-up checks, `npm run preview` and the template tests render, so they render exactly what a job
 * would.
 */
import type { RenderedEmail, TaskContext, TaskDefaults, TaskDefinition } from './define-task.js';
import { parsePayload } from '@email-workers/client/internal';

export interface SampleRendering extends RenderedEmail {
  to: string;
}

export async function renderSample(
  task: TaskDefinition,
  render: TaskContext['render'],
  defaults: TaskDefaults,
  payload: unknown = task.sample,
  now: Date = new Date('2026-04-02T10:15:00Z'),
): Promise<SampleRendering | undefined> {
  let captured: SampleRendering | undefined;
  const ctx: TaskContext = {
    job: { id: 'sample', name: task.name, queue: task.queue, attempt: 1, enqueuedAt: now },
    defaults,
    delivery: { key: 'sample', claim: async () => ({ status: 'claimed' }), sent: async () => undefined },
    findRecipient: async () => ({ email: 'ada@example.com', name: 'Ada Lovelace' }),
    render,
    send: async (email) => {
      captured = { to: email.to, subject: email.subject, html: email.html, text: email.text };
      return { messageId: '<sample@localhost>', response: '250 sample' };
    },
    checkHealth: () => Promise.reject(new Error('a sample rendering checks no health')),
    now: () => now,
  };
  if (task.queue === 'system') return undefined;
  await task.handle(parsePayload(task, payload), ctx);
  return captured;
}
