/**
 * `/dead-letters`: the `dead_letter` queue, newest first — jobs that failed for good and messages the bridges
 * refused — redacted like the board, with the operator's Replay button on each job's letter (a viewer sees no
 * button, and its POST is refused by viewerReadsOnly).
 */
import type { DeadLetterView } from '../../queues/dead-letter-admin.js';
import { FAILED_JOB_SOURCE } from '../../queues/dead-letter.js';
import { TASK_NAMES } from '../../tasks/registry.js';
import { viewDeadLetter } from '../api/dead-letter-view.js';
import { html } from './html.js';
import { page, type PageContext } from './layout.js';

export interface DeadLetterQuery {
  task?: string;
  since_hours?: number;
  limit: number;
  notice?: string;
}

/** Query string → filter; unknown values are dropped rather than refused (it is a form). */
export function deadLetterQuery(query: Record<string, unknown>): DeadLetterQuery {
  const text = (name: string) =>
    (typeof query[name] === 'string' && (query[name] as string).trim()) || undefined;
  const since = Number(text('since_hours'));
  const limit = Number(text('limit') ?? 100);
  return {
    task: TASK_NAMES.find((name) => name === text('task')),
    since_hours: Number.isFinite(since) && since > 0 ? since : undefined,
    limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, 500) : 100,
    notice: text('notice')?.slice(0, 500),
  };
}

export function deadLettersPage(
  context: PageContext,
  query: DeadLetterQuery,
  letters: readonly DeadLetterView[],
): string {
  const canReplay = context.viewer.role === 'operator';
  const option = (value: string) =>
    html`<option value="${value}" ${(query.task ?? '') === value ? html` selected` : ''}>
      ${value || 'any'}
    </option>`;
  const form = html`<form method="get" action="${context.basePath}/dead-letters" class="card">
    <label
      >task
      <select name="task">
        ${['', ...TASK_NAMES].map(option)}
      </select></label
    >
    <label
      >last
      <input name="since_hours" type="number" min="1" value="${query.since_hours ?? ''}" style="width:5em" />
      hours</label
    >
    <button type="submit">Filter</button>
  </form>`;
  const rows = letters.map((letter) => {
    const view = viewDeadLetter(letter);
    return html`<tr data-id="${view.id}">
      <td>${view.at.replace('T', ' ').slice(0, 19)}</td>
      <td>${view.task ?? ''}</td>
      <td>${view.code}</td>
      <td>${view.recipient ?? ''}</td>
      <td>${view.attempts ?? ''}</td>
      <td>${view.origin} ${view.job_id ?? ''}</td>
      <td>${view.reason}</td>
      <td>
        ${canReplay && letter.data.source === FAILED_JOB_SOURCE ? replayForm(context.basePath, letter.id) : ''}
      </td>
    </tr>`;
  });
  return page(
    context,
    'Dead letters',
    html`${query.notice ? html`<p class="card" role="status">${query.notice}</p>` : ''}${form}
      <table>
        <thead>
          <tr>
            <th>at</th>
            <th>task</th>
            <th>code</th>
            <th>recipient</th>
            <th>runs</th>
            <th>job</th>
            <th>last error</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${
            rows.length
              ? rows
              : html`<tr>
                  <td colspan="8">no dead letters</td>
                </tr>`
          }
        </tbody>
      </table>`,
  );
}

function replayForm(basePath: string, id: string) {
  return html`<form method="post" action="${basePath}/dead-letters/replay" class="inline">
    <input type="hidden" name="id" value="${id}" />
    <button
      title="Back on its queue with a fresh attempt budget; the ledger keeps a sent email from going twice"
    >
      Replay
    </button>
  </form>`;
}
