/**
 * `/suppressions`: the addresses the service does not mail, newest first, searchable. The operator sees them in
 * clear and adds or removes them; the viewer sees them masked and changes nothing.
 */
import type { Suppression } from '../../db/suppressions.js';
import { maskEmail, maskEmailsIn } from '../../logger.js';
import { html } from './html.js';
import { page, type PageContext } from './layout.js';

const when = (date: Date | null) => (date ? date.toISOString().replace('T', ' ').slice(0, 19) : 'never');

export function suppressionsPage(
  context: PageContext,
  search: string | undefined,
  rows: readonly Suppression[] | undefined,
  notice?: string,
): string {
  const operator = context.viewer.role === 'operator';
  const base = context.basePath;
  const searchForm = html`<form method="get" action="${base}/suppressions" class="card">
    <label>address contains <input name="search" type="search" value="${search ?? ''}" /></label>
    <button type="submit">Search</button>
  </form>`;
  if (!rows) {
    return page(
      context,
      'Suppressions',
      html`${searchForm}
        <p>No database is configured: nothing is suppressed.</p>`,
    );
  }
  const addForm = operator
    ? html`<form method="post" action="${base}/suppressions" class="card">
        <label>address <input name="address" type="email" required maxlength="254" /></label>
        <label
          >days <input name="days" type="number" min="1" placeholder="for good" style="width:6em"
        /></label>
        <button type="submit">Suppress</button>
      </form>`
    : '';
  const body = rows.map(
    (row) =>
      html`<tr>
        <td>${operator ? row.address : (maskEmail(row.address) ?? '')}</td>
        <td>${row.reason}</td>
        <td>${when(row.created_at)}</td>
        <td>${when(row.expires_at)}</td>
        <td>${row.source}</td>
        <td>${maskEmailsIn(row.detail ?? '')}</td>
        <td>
          ${
            operator
              ? html`<form method="post" action="${base}/suppressions/remove" class="inline">
                  <input type="hidden" name="address" value="${row.address}" /><button type="submit">
                    Remove
                  </button>
                </form>`
              : ''
          }
        </td>
      </tr>`,
  );
  return page(
    context,
    'Suppressions',
    html`${notice ? html`<p class="card" role="status">${notice}</p>` : ''}${searchForm}${addForm}
      <table>
        <thead>
          <tr>
            <th>address</th>
            <th>reason</th>
            <th>since</th>
            <th>until</th>
            <th>source</th>
            <th>detail</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${
            body.length
              ? body
              : html`<tr>
                  <td colspan="7">the suppression list is empty</td>
                </tr>`
          }
        </tbody>
      </table>`,
  );
}
