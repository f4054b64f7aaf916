/**
 * The contract as other languages and tools see it: the generated TypeScript types match the zod schemas, and the
 * JSON Schemas keep every payload an older producer of this major version sends valid (semver).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Payloads, PayloadOf, TaskName } from '@email-workers/client';
import { jsonSchemaFiles, payloadTypesFile } from '@email-workers/client/internal';
import { breakingChanges, type JsonSchema } from '../../scripts/contract-compat.js';

const CLIENT = resolve(import.meta.dirname, '../../packages/client');
const major = (
  JSON.parse(readFileSync(resolve(CLIENT, 'package.json'), 'utf8')) as { version: string }
).version.split('.')[0]!;
const BASELINE = resolve(CLIENT, 'contract', `v${major}`);
const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as JsonSchema;

describe('src/payloads.ts', () => {
  it('is what `npm run schemas` generates from the zod schemas', () => {
    const onDisk = readFileSync(resolve(CLIENT, 'src/payloads.ts'), 'utf8');
    expect(onDisk, 'packages/client/src/payloads.ts is stale: run `npm run schemas`').toBe(
      payloadTypesFile(),
    );
  });

  it('types each payload as the schemas infer it, both ways', () => {
    // Checked by `npm run typecheck`: a generated type that drifted from z.input names its task here.
    type Drifted = {
      [N in TaskName]: [Payloads[N]] extends [PayloadOf<N>]
        ? [PayloadOf<N>] extends [Payloads[N]]
          ? never
          : N
        : N;
    }[TaskName];
    expectTypeOf<Drifted>().toEqualTypeOf<never>();
    const text = payloadTypesFile();
    for (const [file] of jsonSchemaFiles()) expect(text).toContain(`  ${file.replace('.json', '')}: {`);
  });
});

describe(`the contract against its baseline, contract/v${major}`, () => {
  it('exists for the current major version', () => {
    expect(existsSync(BASELINE), `store the schemas of version ${major} in contract/v${major}`).toBe(true);
  });

  it('still has every task of the baseline', () => {
    const current = jsonSchemaFiles().map(([file]) => file);
    const baseline = readdirSync(BASELINE).filter((file) => file.endsWith('.json'));
    expect(baseline.filter((file) => !current.includes(file))).toEqual([]);
  });

  it.each(jsonSchemaFiles().filter(([file]) => existsSync(resolve(BASELINE, file))))(
    '%s breaks no producer of this major version',
    (file, text) => {
      const problems = breakingChanges(read(resolve(BASELINE, file)), JSON.parse(text) as JsonSchema);
      expect(problems, `a breaking change needs a new major version of @email-workers/client`).toEqual([]);
    },
  );
});

describe('the compatibility check', () => {
  const booking = (): JsonSchema => read(resolve(CLIENT, 'schemas/send_booking_confirmation.json'));

  it('finds nothing between a schema and itself', () => {
    expect(breakingChanges(booking(), booking())).toEqual([]);
  });

  it('catches a field made required', () => {
    const after = booking();
    after.required = [...(after.required ?? []), 'email'];
    expect(breakingChanges(booking(), after)).toEqual(['email: made required']);
  });

  it('catches a nested field made required', () => {
    const after = booking();
    after.properties!.booking_data!.required = ['venue'];
    expect(breakingChanges(booking(), after)).toEqual(['booking_data.venue: made required']);
  });

  it('catches a new required field and a removed one', () => {
    const after = booking();
    after.properties!.seat = { type: 'string' };
    after.required = [...(after.required ?? []), 'seat'];
    delete after.properties!.correlation_id;
    expect(breakingChanges(booking(), after).sort()).toEqual([
      'correlation_id: removed',
      'seat: new required field',
    ]);
  });

  it('catches narrowed types: a union branch dropped, a type changed, an enum shrunk, a bound lowered', () => {
    const before: JsonSchema = {
      type: 'object',
      properties: {
        id: { anyOf: [{ type: 'string' }, { type: 'number' }] },
        count: { type: 'number' },
        kind: { type: 'string', enum: ['a', 'b'] },
        name: { type: 'string', maxLength: 200 },
      },
    };
    const after: JsonSchema = {
      type: 'object',
      properties: {
        id: { type: 'string' },
        count: { type: 'string' },
        kind: { type: 'string', enum: ['a'] },
        name: { type: 'string', maxLength: 100 },
      },
    };
    expect(breakingChanges(before, after)).toEqual([
      'id: no longer accepts number',
      'count: type narrowed from number to string',
      'kind: values no longer accepted: "b"',
      'name: maxLength lowered to 100',
    ]);
  });

  it('lets compatible changes through: a new optional field, a wider bound, a new union branch, an integer widened', () => {
    const before: JsonSchema = {
      type: 'object',
      properties: { name: { type: 'string', maxLength: 100 }, n: { type: 'integer' } },
      required: ['name'],
    };
    const after: JsonSchema = {
      type: 'object',
      properties: {
        name: { anyOf: [{ type: 'string', maxLength: 200 }, { type: 'number' }] },
        n: { type: 'number' },
        note: { type: 'string' },
      },
      required: ['name'],
    };
    expect(breakingChanges(before, after)).toEqual([]);
  });
});
