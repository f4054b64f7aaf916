/** `/api/docs`: the OpenAPI document rendered as a page (no external assets: it works offline). */
import { html, type SafeHtml } from './html.js';

interface Operation {
  summary?: string;
  parameters?: Array<{ in: string; name: string; description?: string; required?: boolean }>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses?: Record<string, { description: string }>;
}

export function apiDocsPage(
  basePath: string,
  document: {
    paths?: Record<string, Record<string, Operation>>;
    components?: { schemas?: Record<string, unknown> };
  },
): string {
  const operations: SafeHtml[] = [];
  for (const [path, methods] of Object.entries(document.paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      const schema = op.requestBody?.content['application/json']?.schema as { $ref?: string } | undefined;
      const refName = schema?.$ref?.split('/').pop();
      const bodySchema = refName ? document.components?.schemas?.[refName] : schema;
      operations.push(
        html`<section class="card">
          <h2><code>${method.toUpperCase()} ${basePath}/api${path}</code></h2>
          <p>${op.summary ?? ''}</p>
          ${op.parameters?.length ? html`<p><strong>Parameters:</strong> ${op.parameters.map((p) => html`<code>${p.name}</code> (${p.in}${p.required ? ', required' : ''}) ${p.description ?? ''}; `)}</p>` : ''}
          ${
            bodySchema
              ? html`<details>
                  <summary>Request body (JSON)</summary>
                  <pre>${JSON.stringify(bodySchema, null, 2)}</pre>
                </details>`
              : ''
          }
          <p>
            <strong>Responses:</strong>
            ${Object.entries(op.responses ?? {}).map(([status, r]) => html`<code>${status}</code> ${r.description}; `)}
          </p>
        </section>`,
      );
    }
  }
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>Task API · email-workers</title>
        <style>
          body {
            font:
              14px/1.45 system-ui,
              sans-serif;
            margin: 1rem 1.2rem;
            color: #1f2937;
          }
          .card {
            border: 1px solid #e5e7eb;
            border-radius: 6px;
            padding: 0.6rem 0.9rem;
            margin: 0.8rem 0;
          }
          pre {
            background: #f9fafb;
            padding: 0.6rem;
            overflow: auto;
          }
        </style>
      </head>
      <body>
        <h1>email-workers task API</h1>
        <p>
          Authorization: <code>Bearer API_TOKEN</code>. Errors:
          <code>{ "error": { "code", "message", "details"? } }</code>. Machine-readable:
          <a href="${basePath}/api/openapi.json">openapi.json</a>.
        </p>
        ${operations}
      </body>
    </html>`.value;
}
