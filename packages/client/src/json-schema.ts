/**
 * The contract as files for other languages and tools, generated from the zod schemas by `npm run schemas`
 * (scripts/generate-schemas.ts): `schemas/<task>.json`, each payload as JSON Schema, and `src/payloads.ts`, the
 * payload types as plain TypeScript. Tests fail when either is stale.
 */
import { z } from 'zod';
import { contracts } from './tasks/contracts.js';

type JsonSchema = {
  type?: string;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  description?: string;
};

function schemaOf(name: keyof typeof contracts) {
  const contract = contracts[name];
  return {
    $id: `https://email-workers/schemas/${contract.name}.json`,
    title: contract.name,
    description: `Payload of ${contract.name} on queue ${contract.queue}`,
    ...z.toJSONSchema(contract.schema, { io: 'input', unrepresentable: 'any' }),
  };
}

/** `[file name, JSON text]` for each task: the payload a producer may send, as JSON Schema. */
export function jsonSchemaFiles(): Array<[string, string]> {
  return (Object.keys(contracts) as Array<keyof typeof contracts>).map((name) => [
    `${name}.json`,
    `${JSON.stringify(schemaOf(name), null, 2)}\n`,
  ]);
}

/** The text of `src/payloads.ts`: one TypeScript type per task, from the same JSON Schemas. */
export function payloadTypesFile(): string {
  const lines = [
    '// Generated from the zod schemas by `npm run schemas` (scripts/generate-schemas.ts): do not edit.',
    '// The payload each task accepts, as plain types; test/unit/contract.test.ts fails when this file is stale.',
    '',
    '/** What a producer may send for each task (fields with a default may be left out). */',
    'export interface Payloads {',
  ];
  for (const name of Object.keys(contracts) as Array<keyof typeof contracts>) {
    lines.push(`  ${name}: ${typeOf(schemaOf(name) as JsonSchema, '  ')};`);
  }
  lines.push('}', '');
  return lines.join('\n');
}

function typeOf(schema: JsonSchema, indent: string): string {
  if (schema.anyOf) return [...new Set(schema.anyOf.map((s) => typeOf(s, indent)))].join(' | ');
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  switch (schema.type) {
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      return `Array<${schema.items ? typeOf(schema.items, indent) : 'unknown'}>`;
    case 'object': {
      const entries = Object.entries(schema.properties ?? {});
      if (!entries.length) return 'Record<string, unknown>';
      const inner = `${indent}  `;
      const required = new Set(schema.required ?? []);
      const fields = entries.map(
        ([key, value]) => `${inner}${key}${required.has(key) ? '' : '?'}: ${typeOf(value, inner)};`,
      );
      return `{\n${fields.join('\n')}\n${indent}}`;
    }
    default:
      return 'unknown';
  }
}
