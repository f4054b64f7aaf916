/** The frame of every monitor page: navigation, who is logged in, and the warning of an open monitor. */
import type { Viewer } from '../auth.js';
import { html, type SafeHtml } from './html.js';

export interface PageContext {
  /** '' or `/monitor`: every link is absolute under it, so the monitor works behind a reverse proxy. */
  basePath: string;
  viewer: Viewer;
  /** The development capture server is in use, so `/outbox` has something to show. */
  outbox: boolean;
}

export const OPEN_WARNING =
  'Open monitor: no login is configured (development). Set MONITOR_USER and MONITOR_PASSWORD.';

export function page(context: PageContext, title: string, body: SafeHtml): string {
  const link = (path: string, text: string) => html`<a href="${context.basePath}${path}">${text}</a>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · email-workers</title>
        <style>
          body {
            font:
              14px/1.45 system-ui,
              sans-serif;
            margin: 0;
            color: #1f2937;
            background: #f8fafc;
          }
          header {
            display: flex;
            gap: 1rem;
            align-items: center;
            padding: 0.6rem 1.2rem;
            background: #111827;
            color: #fff;
          }
          header a {
            color: #e5e7eb;
            text-decoration: none;
          }
          header a:hover {
            color: #fff;
            text-decoration: underline;
          }
          header .who {
            margin-left: auto;
            color: #9ca3af;
          }
          .open {
            background: #b91c1c;
            color: #fff;
            padding: 0.5rem 1.2rem;
            font-weight: 600;
          }
          main {
            padding: 1rem 1.2rem;
          }
          table {
            border-collapse: collapse;
            width: 100%;
            background: #fff;
          }
          th,
          td {
            border-bottom: 1px solid #e5e7eb;
            padding: 0.35rem 0.5rem;
            text-align: left;
            vertical-align: top;
          }
          th {
            background: #f1f5f9;
            font-weight: 600;
          }
          .gone {
            color: #9ca3af;
          }
          .alive {
            color: #047857;
            font-weight: 600;
          }
          .unknown {
            background: #fef3c7;
          }
          .card {
            background: #fff;
            border: 1px solid #e5e7eb;
            border-radius: 6px;
            padding: 0.8rem;
            margin-bottom: 1rem;
          }
          .pair {
            display: grid;
            grid-template-columns: 620px 1fr;
            gap: 1rem;
          }
          iframe {
            width: 620px;
            height: 520px;
            border: 1px solid #d1d5db;
            background: #fff;
          }
          pre {
            white-space: pre-wrap;
            margin: 0;
            font-size: 12.5px;
            background: #f9fafb;
            padding: 0.6rem;
            border: 1px solid #e5e7eb;
          }
          form.inline {
            display: inline;
          }
          button {
            cursor: pointer;
          }
          .muted {
            color: #6b7280;
          }
        </style>
      </head>
      <body>
        ${context.viewer.open ? html`<div class="open" role="alert">${OPEN_WARNING}</div>` : ''}
        <header>
          <strong>email-workers</strong>
          ${link('/queues', 'Queues')} ${link('/workers', 'Workers')} ${link('/templates', 'Templates')}
          ${context.outbox ? link('/outbox', 'Outbox') : ''} ${link('/deliveries', 'Deliveries')}
          ${link('/suppressions', 'Suppressions')} ${link('/dead-letters', 'Dead letters')}
          ${link('/api/docs', 'API')} ${link('/metrics', 'Metrics')}
          <span class="who">${context.viewer.user} · ${context.viewer.role}</span>
        </header>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`.value;
}

/** An email's HTML in a sandboxed frame: no scripts, no same-origin access, no forms. */
export function emailFrame(title: string, emailHtml: string): SafeHtml {
  return html`<iframe
    sandbox=""
    referrerpolicy="no-referrer"
    title="${title}"
    srcdoc="${emailHtml}"
  ></iframe>`;
}
