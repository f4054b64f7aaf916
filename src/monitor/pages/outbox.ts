/**
 * `/outbox` (development, when the capture server is in use): the newest captured messages, each rendered.
 * Addresses are masked as everywhere else in the monitor.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { maskEmailsIn } from '../../logger.js';
import { html } from './html.js';
import { emailFrame, page, type PageContext } from './layout.js';

const SHOWN = 20;

export async function outboxPage(context: PageContext, dir: string): Promise<string> {
  // The capture server names files by their arrival time, so the name orders them.
  const files = (await readdir(dir).catch(() => [] as string[]))
    .filter((file) => file.endsWith('.eml'))
    .sort()
    .reverse();
  const cards = await Promise.all(
    files.slice(0, SHOWN).map(async (file) => {
      const mail = await simpleParser(await readFile(join(dir, file)));
      const to = maskEmailsIn(
        mail.to
          ? [mail.to]
              .flat()
              .map((a) => a.text)
              .join(', ')
          : '',
      );
      const subject = maskEmailsIn(mail.subject ?? '');
      return html`<section class="card" data-file="${file}">
        <h2>${subject}</h2>
        <p class="muted">${mail.date?.toISOString() ?? ''} · to ${to} · ${file}</p>
        <div class="pair">
          ${emailFrame(subject, maskEmailsIn(mail.html || ''))}
          <pre>${maskEmailsIn(mail.text ?? '')}</pre>
        </div>
      </section>`;
    }),
  );
  return page(
    context,
    'Outbox',
    html`<p class="muted">
        ${files.length} message(s) captured in ${dir}, newest
        first${files.length > SHOWN ? ` (the last ${SHOWN} shown)` : ''}.
      </p>
      ${cards}`,
  );
}
