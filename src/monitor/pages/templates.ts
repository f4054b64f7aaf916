/**
 * `/templates`: every email task rendered with its sample data, per locale: subject, the HTML in a sandboxed
 * frame and the text part beside it, so a person reviews the emails without sending one. Rendered once, at
 * start-up, by the tasks' real handlers (render-sample.ts).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskDefaults } from '../../tasks/define-task.js';
import { renderSample } from '../../tasks/render-sample.js';
import { tasks } from '../../tasks/registry.js';
import type { Templates } from '../../mail/templates.js';
import { html, type SafeHtml } from './html.js';
import { emailFrame, page, type PageContext } from './layout.js';

export async function renderGallery(
  templates: Templates,
  templatesDir: string,
  defaults: TaskDefaults,
): Promise<SafeHtml> {
  const cards: SafeHtml[] = [];
  for (const task of Object.values(tasks)) {
    if (task.queue === 'system') continue;
    for (const locale of [undefined, ...localeFolders(templatesDir, task.name)]) {
      const payload = locale ? { ...task.sample, locale } : task.sample;
      const email = await renderSample(task, templates.render, defaults, payload);
      if (!email) continue;
      const label = `${task.name} · ${locale ?? `${defaults.locale} (default)`}`;
      cards.push(
        html`<section
          class="card"
          id="${task.name}${locale ? `-${locale}` : ''}"
          data-task="${task.name}"
          data-locale="${locale ?? 'default'}"
        >
          <h2>${label}</h2>
          <p><strong>Subject:</strong> <span class="subject">${email.subject}</span></p>
          <div class="pair">
            ${emailFrame(label, email.html)}
            <pre class="text">${email.text}</pre>
          </div>
        </section>`,
      );
    }
  }
  return html`${cards}`;
}

export function templatesPage(context: PageContext, gallery: SafeHtml): string {
  return page(
    context,
    'Templates',
    html`<p class="muted">
        Each task's email rendered with its sample payload, as a job would render it. Nothing is sent.
      </p>
      ${gallery}`,
  );
}

function localeFolders(dir: string, task: string): string[] {
  try {
    return readdirSync(join(dir, task))
      .filter((entry) => statSync(join(dir, task, entry)).isDirectory())
      .sort();
  } catch {
    return [];
  }
}
