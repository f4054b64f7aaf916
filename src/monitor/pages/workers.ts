/** `/workers`: every process that heartbeats (workers, bridges), alive or gone, as Flower lists them. */
import type { WorkerStatus } from '../../queues/heartbeat.js';
import { html } from './html.js';
import { page, type PageContext } from './layout.js';

export function workersPage(context: PageContext, workers: readonly WorkerStatus[]): string {
  const rows = workers.map(
    (w) =>
      html`<tr class="${w.alive ? '' : 'gone'}" data-worker="${w.id}">
        <td class="${w.alive ? 'alive' : 'gone'}">${w.alive ? 'alive' : 'gone'}</td>
        <td>${w.name}</td>
        <td>${w.kind}</td>
        <td>${w.host}</td>
        <td>${w.pid}</td>
        <td>${w.queues.join(', ')}</td>
        <td>${w.concurrency}</td>
        <td>${duration(w.uptime_s)}</td>
        <td>${w.jobs_processed}</td>
        <td>${w.jobs_failed}</td>
        <td>${w.last_heartbeat}</td>
      </tr>`,
  );
  return page(
    context,
    'Workers',
    html`<p class="muted">
        Processes that published a heartbeat in the last hour. One that has not for three intervals, or that
        shut down, is gone.
      </p>
      <table>
        <thead>
          <tr>
            <th>status</th>
            <th>name</th>
            <th>kind</th>
            <th>host</th>
            <th>pid</th>
            <th>queues</th>
            <th>concurrency</th>
            <th>uptime</th>
            <th>processed</th>
            <th>failed</th>
            <th>last heartbeat</th>
          </tr>
        </thead>
        <tbody>
          ${
            rows.length
              ? rows
              : html`<tr>
                  <td colspan="11">no worker has published a heartbeat</td>
                </tr>`
          }
        </tbody>
      </table>`,
  );
}

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${seconds % 60} s` : `${seconds} s`;
}
