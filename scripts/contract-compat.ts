/**
 * Semver for the contract: which changes between two JSON Schemas of a payload would break a producer written
 * against the old one, i.e. make a payload it sends invalid. A removed field, a new required field (or an optional
 * one made required), a narrowed type (a type or union branch dropped, an enum value removed, a bound tightened, a
 * pattern or format added or changed, extra keys refused). Adding an optional field or widening is compatible.
 * test/unit/contract.test.ts runs it against packages/client/contract/v<major>/, the schemas of the client's
 * current major version: a breaking change needs a new major (and its baseline stored beside the old one).
 */
export interface JsonSchema {
  type?: string | string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
}

/** Lower bounds: a higher value in the new schema refuses what the old one allowed. */
const LOWER = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems'] as const;
/** Upper bounds: a lower value in the new schema refuses what the old one allowed. */
const UPPER = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems'] as const;

/** One line per breaking change, naming the field (`booking_data.quantity`); empty when compatible. */
export function breakingChanges(before: JsonSchema, after: JsonSchema, path = ''): string[] {
  const at = path || '(payload)';
  const beforeBranches = branches(before);
  const afterBranches = branches(after);
  if (beforeBranches.length > 1 || afterBranches.length > 1) {
    // Every way the old schema accepted a value must still be accepted by some branch of the new one.
    return beforeBranches.flatMap((old) => {
      const fits = afterBranches.map((candidate) => breakingChanges(old, candidate, path));
      if (fits.some((problems) => problems.length === 0)) return [];
      const sameType = afterBranches.findIndex((candidate) => typesFit(old, candidate));
      return sameType >= 0 ? fits[sameType]! : [`${at}: no longer accepts ${describe(old)}`];
    });
  }
  const problems: string[] = [];
  if (!typesFit(before, after))
    problems.push(`${at}: type narrowed from ${describe(before)} to ${describe(after)}`);
  if (after.enum || after.const !== undefined) {
    const allowed = after.enum ?? [after.const];
    const old = before.enum ?? (before.const !== undefined ? [before.const] : undefined);
    const lost = old
      ? old.filter((v) => !allowed.some((a) => JSON.stringify(a) === JSON.stringify(v)))
      : ['…'];
    if (lost.length)
      problems.push(
        `${at}: values no longer accepted: ${old ? lost.map((v) => JSON.stringify(v)).join(', ') : 'any but the listed'}`,
      );
  }
  for (const key of LOWER) {
    const now = after[key];
    if (now !== undefined && (before[key] === undefined || now > before[key]))
      problems.push(`${at}: ${key} raised to ${now}`);
  }
  for (const key of UPPER) {
    const now = after[key];
    if (now !== undefined && (before[key] === undefined || now < before[key]))
      problems.push(`${at}: ${key} lowered to ${now}`);
  }
  for (const key of ['pattern', 'format'] as const) {
    if (after[key] !== undefined && after[key] !== before[key])
      problems.push(`${at}: ${key} added or changed`);
  }
  if (after.additionalProperties === false && before.additionalProperties !== false) {
    problems.push(`${at}: unknown keys now refused`);
  }
  const oldRequired = new Set(before.required ?? []);
  for (const field of after.required ?? []) {
    if (!oldRequired.has(field)) {
      problems.push(
        `${join(path, field)}: ${before.properties?.[field] ? 'made required' : 'new required field'}`,
      );
    }
  }
  for (const [field, old] of Object.entries(before.properties ?? {})) {
    const now = after.properties?.[field];
    if (!now) problems.push(`${join(path, field)}: removed`);
    else problems.push(...breakingChanges(old, now, join(path, field)));
  }
  if (before.items && after.items) problems.push(...breakingChanges(before.items, after.items, `${path}[]`));
  return problems;
}

function branches(schema: JsonSchema): JsonSchema[] {
  const { anyOf, oneOf, ...rest } = schema;
  const list = anyOf ?? oneOf;
  // Keywords beside anyOf (a default, a description) apply to every branch.
  return list ? list.map((branch) => ({ ...rest, ...branch })) : [schema];
}

function typesOf(schema: JsonSchema): Set<string> | undefined {
  if (schema.type === undefined) return undefined;
  return new Set(Array.isArray(schema.type) ? schema.type : [schema.type]);
}

/** Whether every type the old schema allowed is still allowed (an integer is a number). */
function typesFit(before: JsonSchema, after: JsonSchema): boolean {
  const now = typesOf(after);
  if (!now) return true;
  const old = typesOf(before);
  if (!old) return false;
  return [...old].every((type) => now.has(type) || (type === 'integer' && now.has('number')));
}

function describe(schema: JsonSchema): string {
  return schema.type === undefined ? 'any value' : [typesOf(schema)!].flatMap((t) => [...t]).join(' or ');
}

function join(path: string, field: string): string {
  return path ? `${path}.${field}` : field;
}
