/**
 * Writes the contract's files from the zod schemas: packages/client/schemas/<task>.json, each task's payload as
 * JSON Schema (what producers may send), and packages/client/src/payloads.ts, the same as TypeScript types.
 * test/unit/schemas.test.ts and test/unit/contract.test.ts fail when a file is stale: run `npm run schemas` after
 * a schema change.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { jsonSchemaFiles, payloadTypesFile } from '../packages/client/src/json-schema.js';

const client = resolve(import.meta.dirname, '..', 'packages', 'client');
const dir = resolve(client, 'schemas');
mkdirSync(dir, { recursive: true });
for (const [file, text] of jsonSchemaFiles()) {
  writeFileSync(resolve(dir, file), text);
  console.log(`wrote packages/client/schemas/${file}`);
}
writeFileSync(resolve(client, 'src', 'payloads.ts'), payloadTypesFile());
console.log('wrote packages/client/src/payloads.ts');
