/**
 * `/deliveries`: the delivery ledger, filterable by recipient, task, status and time, `unknown` rows first (a
 * person must decide those), with the operator's action that resolves one. Recipients are masked, and subjects
 * left out: a subject may greet the recipient by name (`start-workers deliveries` shows them at a terminal).
 */
import type { DeliveryFilter, DeliveryRow } from '../../db/ledger/index.js';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../../db/delivery-statuses.js';
import { maskEmail, maskEmailsIn } from '../../logger.js';
import { TASK_NAMES } from '../../tasks/registry.js';
import { html } from './html.js';
import { page, type PageContext } from './layout.js';

export interface DeliveryQuery {
  to?: string;
  task?: string;
  status?: DeliveryStatus;
  /** Hours back from now. */
  since_hours?: number;
  limit: number;
}

/** Query string → filter; unknown values are dropped rather than refused (it is a form). */
export function deliveryQuery(query: Record<string, unknown>): DeliveryQuery {
  const text = (name: string) =>
    (typeof query[name] === 'string' && (query[name] as string).trim()) || undefined;
  const status = text('status');
  const since = Number(text('since_hours'));
  const limit = Number(text('limit') ?? 100);
  return {
    to: text('to')?.slice(0, 254),
    task: TASK_NAMES.find((name) => name === text('task')),
    status: DELIVERY_STATUSES.find((s) => s === status),
    since_hours: Number.isFinite(since) && since > 0 ? since : undefined,
    limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, 500) : 100,
  };
}

export function toFilter(query: DeliveryQuery): DeliveryFilter {
  return {
    recipient: query.to,
    task: query.task,
    status: query.status,
    since: query.since_hours ? new Date(Date.now() - query.since_hours * 3_600_000) : undefined,
    limit: query.limit,
  };
}

export function deliveriesPage(
  context: PageContext,
  query: DeliveryQuery,
  rows: readonly DeliveryRow[] | undefined,
  notice?: string,
): string {
  const canResolve = context.viewer.role === 'operator';
  const option = (value: string, selected: string | undefined) =>
    html`<option value="${value}" ${selected === value ? html` selected` : ''}>${value || 'any'}</option>`;
  const form = html`<form method="get" action="${context.basePath}/deliveries" class="card">
    <label
      >recipient <input name="to" type="search" value="${query.to ?? ''}" placeholder="ada@example.com"
    /></label>
    <label
      >task
      <select name="task">
        ${['', ...TASK_NAMES].map((t) => option(t, query.task ?? ''))}
      </select></label
    >
    <label
      >status
      <select name="status">
        ${['', ...DELIVERY_STATUSES].map((s) => option(s, query.status ?? ''))}
      </select></label
    >
    <label
      >last
      <input name="since_hours" type="number" min="1" value="${query.since_hours ?? ''}" style="width:5em" />
      hours</label
    >
    <button type="submit">Filter</button>
  </form>`;
  if (!rows) {
    return page(
      context,
      'Deliveries',
      html`${form}
        <p>No database is configured: the ledger is off.</p>`,
    );
  }
  const body = rows.map(
    (row) =>
      html`<tr class="${row.status === 'unknown' ? 'unknown' : ''}" data-status="${row.status}">
        <td>${row.created_at.toISOString().replace('T', ' ').slice(0, 19)}</td>
        <td>${row.status}</td>
        <td>${row.task}</td>
        <td>${maskEmail(row.recipient) ?? ''}</td>
        <td>${row.attempts}</td>
        <td>${row.job_id}</td>
        <td>${row.message_id ?? ''}</td>
        <td>${maskEmailsIn(row.last_error ?? row.smtp_response ?? '')}</td>
        <td>
          ${row.status === 'unknown' && canResolve ? resolveForm(context.basePath, row.idempotency_key) : ''}
        </td>
      </tr>`,
  );
  return page(
    context,
    'Deliveries',
    html`${notice ? html`<p class="card" role="status">${notice}</p>` : ''}${form}
      <table>
        <thead>
          <tr>
            <th>created</th>
            <th>status</th>
            <th>task</th>
            <th>recipient</th>
            <th>attempts</th>
            <th>job</th>
            <th>message id</th>
            <th>detail</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${
            body.length
              ? body
              : html`<tr>
                  <td colspan="9">no deliveries match</td>
                </tr>`
          }
        </tbody>
      </table>`,
  );
}

function resolveForm(basePath: string, key: string) {
  return html`<form method="post" action="${basePath}/deliveries/resolve" class="inline">
    <input type="hidden" name="key" value="${key}" />
    <button name="resolution" value="sent" title="The mail server's log shows it was delivered">
      Mark sent
    </button>
    <button name="resolution" value="resend" title="It was not delivered: send it again">Resend</button>
  </form>`;
}

/** `unknown` rows first (they wait for a person), then the rest, newest first. */
export function unknownFirst(
  unknown: readonly DeliveryRow[],
  rest: readonly DeliveryRow[],
  limit: number,
): DeliveryRow[] {
  return [...unknown, ...rest.filter((row) => row.status !== 'unknown')].slice(0, limit);
}
