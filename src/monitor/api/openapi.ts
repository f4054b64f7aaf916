/**
 * `GET /api/openapi.json`: OpenAPI 3.1, generated with zod-openapi from the route table's schemas and every
 * task's payload schema (the same zod objects that validate requests and write schemas/*.json).
 */
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponseObject,
} from 'zod-openapi';
import type { z } from 'zod';
import { TASK_NAMES, tasks } from '../../tasks/registry.js';
import { API_ROUTES, type ApiRoute } from './routes.js';
import { errorBody } from './schemas.js';

export function openApiDocument(serverUrl: string, version: string): ReturnType<typeof createDocument> {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of API_ROUTES) {
    if (route.path === '/tasks/:name') {
      for (const name of TASK_NAMES) {
        const task = tasks[name];
        paths[`/tasks/${name}`] = {
          post: operation(route, {
            summary: `Enqueue ${name} (queue ${task.queue})`,
            operationId: `enqueue_${name}`,
            body: (task.schema as z.ZodType).meta({ id: `${name}_payload` }),
          }),
        };
      }
      continue;
    }
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    paths[path] = { ...paths[path], [route.method]: operation(route, {}) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'email-workers task API',
      version,
      description:
        'Enqueue email tasks and follow their jobs. Every error answers `{ error: { code, message, details? } }`.',
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API_TOKEN' } } },
    paths,
  });
}

function operation(
  route: ApiRoute,
  extra: { summary?: string; operationId?: string; body?: z.ZodType },
): ZodOpenApiOperationObject {
  const responses: Record<string, ZodOpenApiResponseObject> = {
    401: {
      description: 'Missing or wrong Bearer token',
      content: { 'application/json': { schema: errorBody } },
    },
    429: {
      description: 'Too many failed logins (Retry-After)',
      content: { 'application/json': { schema: errorBody } },
    },
  };
  for (const [status, { description, body }] of Object.entries(route.responses)) {
    responses[status] = { description, content: { 'application/json': { schema: body ?? errorBody } } };
  }
  return {
    summary: extra.summary ?? route.summary,
    operationId:
      extra.operationId ?? `${route.method}_${route.path.replace(/[^a-z]+/gi, '_').replace(/^_|_$/g, '')}`,
    requestParams: {
      ...(route.params && !extra.body ? { path: route.params } : {}),
      ...(route.query ? { query: route.query } : {}),
      ...(route.headers ? { header: route.headers } : {}),
    },
    ...(extra.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: extra.body } } } }
      : {}),
    responses,
  };
}
