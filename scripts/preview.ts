/**
 * Renders every email task's sample into preview/ (HTML, text and an index), so a person can look at what the
 * templates produce: `npx tsx scripts/preview.ts`, then open preview/index.html.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { loadConfig } from '../src/config.js';
import { loadTemplates } from '../src/mail/templates.js';
import { renderSample } from '../src/tasks/render-sample.js';
import { TASK_NAMES, tasks } from '../src/tasks/registry.js';
import type { TaskDefinition } from '../src/tasks/define-task.js';

const config = loadConfig();
const templates = loadTemplates({ dir: config.templatesDir, brand: config.brand, defaults: config.defaults });
const outDir = resolve('preview');
mkdirSync(outDir, { recursive: true });

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

const rows: string[] = [];
const written: string[] = [];
for (const name of TASK_NAMES) {
  const email = await renderSample(tasks[name] as TaskDefinition, templates.render, config.defaults);
  if (!email) continue; // health_check sends no email
  for (const [ext, body] of [
    ['html', email.html],
    ['txt', email.text],
  ] as const) {
    const file = join(outDir, `${name}.${ext}`);
    writeFileSync(file, body);
    written.push(file);
  }
  rows.push(
    `<li><strong>${escapeHtml(name)}</strong>: ${escapeHtml(email.subject)} ` +
      `(<a href="${name}.html">HTML</a>, <a href="${name}.txt">text</a>)</li>`,
  );
}

const index = join(outDir, 'index.html');
writeFileSync(
  index,
  `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Email previews</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; line-height: 1.5">
<h1>Email previews</h1>
<p>Each task's sample payload, rendered by its real handler with the templates in ${escapeHtml(config.templatesDir)}.</p>
<ul>
${rows.join('\n')}
</ul>
</body>
</html>
`,
);
written.push(index);
for (const file of written) console.log(relative(process.cwd(), file));
