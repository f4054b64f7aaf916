/**
 * Writes schemas/<task>.json, each task's payload as JSON Schema (what producers may send), from its zod
 * schema. `test/unit/schemas.test.ts` fails when a file is stale: run `npm run schemas` after a schema change.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { jsonSchemaFiles } from '../src/tasks/json-schema.js';

const dir = resolve(import.meta.dirname, '..', 'schemas');
mkdirSync(dir, { recursive: true });
for (const [file, text] of jsonSchemaFiles()) {
  writeFileSync(resolve(dir, file), text);
  console.log(`wrote schemas/${file}`);
}
