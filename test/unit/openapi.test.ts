/**
 * `/api/openapi.json` is OpenAPI 3.1 that a standard parser accepts, generated from the zod schemas that
 * validate requests: every task's body is its payload schema, so it agrees with packages/client/schemas/<task>.json.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { compileErrors, validate } from '@readme/openapi-parser';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/monitor/api/openapi.js';
import { API_ROUTES } from '../../src/monitor/api/routes.js';
import { TASK_NAMES } from '../../src/tasks/registry.js';

const document = openApiDocument('/api', '1.2.3');
const json = JSON.parse(JSON.stringify(document));

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 for @readme/openapi-parser', async () => {
    const result = await validate(structuredClone(json));
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(json.openapi).toBe('3.1.0');
  });

  it('has an enqueue operation per task, whose body is the task payload schema', () => {
    for (const name of TASK_NAMES) {
      const operation = json.paths[`/tasks/${name}`]?.post;
      expect(operation, name).toBeDefined();
      const ref = operation.requestBody.content['application/json'].schema.$ref as string;
      const schema = json.components.schemas[ref.split('/').pop()!];
      const file = JSON.parse(
        readFileSync(resolve(import.meta.dirname, `../../packages/client/schemas/${name}.json`), 'utf8'),
      );
      expect(Object.keys(schema.properties ?? {}).sort(), name).toEqual(
        Object.keys(file.properties ?? {}).sort(),
      );
      expect((schema.required ?? []).sort(), name).toEqual((file.required ?? []).sort());
      expect(Object.keys(operation.responses)).toEqual(
        expect.arrayContaining(['202', '200', '400', '401', '404', '413', '422', '503']),
      );
    }
  });

  it('documents every other route of the route table', () => {
    for (const route of API_ROUTES.filter((r) => r.path !== '/tasks/:name')) {
      const path = route.path.replace(/:(\w+)/g, '{$1}');
      expect(json.paths[path]?.[route.method], `${route.method} ${path}`).toBeDefined();
    }
  });

  it('uses one error shape', () => {
    expect(json.components.schemas.Error.properties.error.required.sort()).toEqual(['code', 'message']);
  });
});
