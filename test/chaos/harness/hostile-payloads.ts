/**
 * Hostile payloads for scenario 12, generated with fast-check: a valid payload of an email task with one to
 * three of its fields replaced by something hostile (a wrong type, a huge string, CRLF and header lines, markup
 * and script, template syntax, bidi and zero-width characters, control characters, out-of-range numbers) or
 * with prototype keys added to one of its objects.
 *
 * Each mutation carries the oracle: `refuse` when the contract says the payload must be refused with that field
 * named (wrong types, bounds, control characters; bidi and zero-width characters in a name, which spoof the
 * displayed text), `either` when accepting it is fine as long as nothing is injected (line breaks and markup in
 * free text are escaped or encoded, unknown keys are ignored).
 */
import fc from 'fast-check';
import type { TaskName } from '../../../src/tasks/registry.js';

type FieldKind = 'email' | 'name' | 'text' | 'count' | 'object' | 'otp' | 'userId';
type Verdict = 'refuse' | 'either';

export interface Mutation {
  /** Dotted path of the field replaced, or of the object a key was added to ('' for the payload itself). */
  path: string;
  kind: string;
  verdict: Verdict;
}

export interface HostileCase {
  task: TaskName;
  payload: Record<string, unknown>;
  mutations: Mutation[];
  /** True when at least one mutation must be refused. */
  mustRefuse: boolean;
}

const ADDRESS = 'hostile@chaos.example';

const BASE: Partial<Record<TaskName, Record<string, unknown>>> = {
  send_welcome_email: { email: ADDRESS, user_data: { username: 'ada', full_name: 'Ada Lovelace' } },
  send_otp_verification_email: { email: ADDRESS, otp: '482913', user_data: { full_name: 'Ada Lovelace' } },
  send_booking_confirmation: {
    user_id: 1,
    email: ADDRESS,
    booking_data: { event_name: 'JSConf', booking_id: 'BK-1', quantity: 2, total_price: 10, venue: 'Hall A' },
  },
  send_booking_cancellation: {
    user_id: 1,
    email: ADDRESS,
    cancellation_data: { event_name: 'JSConf', reason: 'Moved', refund_amount: '10.00' },
  },
  send_waitlist_joined: { user_id: 1, email: ADDRESS, waitlist_data: { event_name: 'JSConf', position: 3 } },
  send_waitlist_notification: {
    user_id: 1,
    email: ADDRESS,
    waitlist_data: { event_name: 'JSConf', position: 1, expiry_minutes: 30 },
  },
  send_waitlist_cancellation: { user_id: 1, email: ADDRESS, waitlist_data: { event_name: 'JSConf' } },
};

const FIELDS: Partial<Record<TaskName, Array<[string, FieldKind]>>> = {
  send_welcome_email: [
    ['email', 'email'],
    ['user_data', 'object'],
    ['user_data.username', 'name'],
    ['user_data.full_name', 'name'],
  ],
  send_otp_verification_email: [
    ['email', 'email'],
    ['otp', 'otp'],
    ['user_data.full_name', 'name'],
  ],
  send_booking_confirmation: [
    ['user_id', 'userId'],
    ['email', 'email'],
    ['booking_data', 'object'],
    ['booking_data.event_name', 'name'],
    ['booking_data.quantity', 'count'],
    ['booking_data.venue', 'text'],
  ],
  send_booking_cancellation: [
    ['user_id', 'userId'],
    ['email', 'email'],
    ['cancellation_data', 'object'],
    ['cancellation_data.event_name', 'name'],
    ['cancellation_data.reason', 'text'],
  ],
  send_waitlist_joined: [
    ['user_id', 'userId'],
    ['email', 'email'],
    ['waitlist_data', 'object'],
    ['waitlist_data.event_name', 'name'],
    ['waitlist_data.position', 'count'],
  ],
  send_waitlist_notification: [
    ['user_id', 'userId'],
    ['email', 'email'],
    ['waitlist_data.event_name', 'name'],
    ['waitlist_data.expiry_minutes', 'count'],
  ],
  send_waitlist_cancellation: [
    ['user_id', 'userId'],
    ['email', 'email'],
    ['waitlist_data', 'object'],
    ['waitlist_data.event_name', 'name'],
  ],
};

export const HOSTILE_TASKS = Object.keys(BASE) as TaskName[];

/** Header lines and breaks that would inject a header or end the header block if they reached it raw. */
export const INJECTIONS = [
  'Ada\r\nBcc: victim@attacker.example',
  'x\r\n\r\n<html>a body of our own</html>',
  '\r\nX-Injected: yes',
  'Line\nTo: other@attacker.example',
  'Subject: forged\r\n',
];
export const MARKUP = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '"><b>bold</b>',
  "Robert'); DROP TABLE users;--",
  '{{brand.name}}{{{html}}}',
];
// Unicode's Bidi_Control characters (overrides, embeddings, isolates, and the zero-width marks LRM, RLM and ALM)
// and the zero-width space, joiners and no-break space.
const SPOOFING = [
  '\u202Egnp.exe',
  'Ad\u200Ba',
  '\u2066evil\u2069',
  'x\uFEFFy',
  'Zero\u200Dwidth',
  'a\u061Cb',
  'left\u200Emark',
  'right\u200Fmark',
];
const CONTROL = ['\u0000', 'bell\u0007', '\u001b[31mred', 'del\u007f'];

const REFUSED_EVERYWHERE: Record<FieldKind, Verdict> = {
  email: 'refuse',
  name: 'refuse',
  text: 'refuse',
  count: 'refuse',
  object: 'refuse',
  otp: 'refuse',
  userId: 'refuse',
};

/** What each kind of value does to each kind of field; `undefined` = not generated for that field. */
const ORACLE: Record<string, Partial<Record<FieldKind, Verdict>>> = {
  wrongType: REFUSED_EVERYWHERE,
  objectValue: { ...REFUSED_EVERYWHERE, object: 'either' },
  huge: REFUSED_EVERYWHERE,
  // Line breaks and markup pass in free text: encoded in headers, escaped in HTML. Never in an address.
  injection: { ...REFUSED_EVERYWHERE, name: 'either', text: 'either' },
  markup: { ...REFUSED_EVERYWHERE, name: 'either', text: 'either' },
  // Spoofing characters are refused in names; addresses are not tried (a 5xx for a non-ASCII address would
  // muddle the oracle).
  spoofing: { ...REFUSED_EVERYWHERE, email: undefined, text: 'either' },
  control: REFUSED_EVERYWHERE,
  // A user id of 1e20 is a number JSON can carry; whether to take it is the contract's call.
  badNumber: { ...REFUSED_EVERYWHERE, userId: 'either' },
};

const VALUES: Record<string, fc.Arbitrary<unknown>> = {
  // JSON's other types: `true` for a count and `[5]` for a quantity are wrong, however they would coerce.
  wrongType: fc.oneof(
    fc.boolean(),
    fc.constant([]),
    fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }),
  ),
  // An object where a value is expected; in place of one of the payload's objects it is merely unknown keys.
  objectValue: fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), fc.integer(), {
    minKeys: 1,
    maxKeys: 2,
  }),
  huge: fc
    .tuple(fc.integer({ min: 2_001, max: 100_000 }), fc.constantFrom('x', 'é', '<', '\u00a0x'))
    .map(([length, unit]) => `a${unit.repeat(length)}`),
  injection: fc.constantFrom(...INJECTIONS),
  markup: fc.constantFrom(...MARKUP),
  spoofing: fc.constantFrom(...SPOOFING),
  control: fc.constantFrom(...CONTROL),
  badNumber: fc.constantFrom(-1, 0, 1.5, 1e20),
};

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

/** One hostile payload of one task. */
export function hostileCase(): fc.Arbitrary<HostileCase> {
  return fc.constantFrom(...HOSTILE_TASKS).chain((task) => {
    const fields = FIELDS[task]!;
    const objects = ['', ...fields.filter(([, kind]) => kind === 'object').map(([path]) => path)];
    const replace = fc
      .tuple(fc.constantFrom(...fields), fc.constantFrom(...Object.keys(VALUES)))
      .filter(([[, kind], valueKind]) => ORACLE[valueKind]![kind] !== undefined)
      .chain(([[path, kind], valueKind]) =>
        VALUES[valueKind]!.map((value) => ({
          apply: (payload: Record<string, unknown>) => setPath(payload, path, value),
          mutation: { path, kind: `${valueKind} in ${kind}`, verdict: ORACLE[valueKind]![kind]! },
        })),
      );
    const addKey = fc
      .tuple(
        fc.constantFrom(...objects),
        fc.constantFrom(...PROTOTYPE_KEYS),
        fc.constantFrom<unknown>({ polluted: true }, 'x', 1),
      )
      .map(([path, key, value]) => ({
        apply: (payload: Record<string, unknown>) =>
          addOwnKey(path ? (getPath(payload, path) as object) : payload, key, value),
        mutation: { path, kind: `prototype key ${key}`, verdict: 'either' as Verdict },
      }));
    return fc
      .uniqueArray(fc.oneof({ weight: 4, arbitrary: replace }, { weight: 1, arbitrary: addKey }), {
        minLength: 1,
        maxLength: 3,
        selector: (m) => m.mutation.path,
      })
      .map((changes) => {
        const payload = structuredClone(BASE[task]!);
        // Objects first, then their fields: a field set inside an object replaced later would vanish.
        for (const change of [...changes].sort((a, b) => a.mutation.path.length - b.mutation.path.length)) {
          change.apply(payload);
        }
        const mutations = changes.map((c) => c.mutation);
        return { task, payload, mutations, mustRefuse: mutations.some((m) => m.verdict === 'refuse') };
      });
  });
}

/**
 * Problems with a refusal: it must name fields, each of them one that was changed (or inside it, or the object
 * holding it), and every change that must be refused must be among them.
 */
export function refusalProblems(c: HostileCase, fields: string[]): string[] {
  const related = (field: string, path: string) =>
    field === path ||
    field.startsWith(`${path}.`) ||
    path.startsWith(`${field}.`) ||
    (path === '' && field !== '');
  const problems: string[] = [];
  if (fields.length === 0) problems.push('refused without naming a field');
  for (const field of fields) {
    if (!c.mutations.some((m) => related(field, m.path)))
      problems.push(`names ${field || '(payload)'}, which was not changed`);
  }
  for (const m of c.mutations.filter((m) => m.verdict === 'refuse')) {
    if (!fields.some((field) => related(field, m.path))) problems.push(`does not name ${m.path} (${m.kind})`);
  }
  return problems;
}

export function describeCase(c: HostileCase): string {
  return `${c.task} with ${c.mutations.map((m) => `${m.kind} at ${m.path || '(payload)'}`).join(', ')}`;
}

function getPath(payload: Record<string, unknown>, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((value, part) => (value as Record<string, unknown> | undefined)?.[part], payload);
}

function setPath(payload: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let target = payload;
  for (const part of parts.slice(0, -1)) {
    if (typeof target[part] !== 'object' || target[part] === null) return; // the object itself was replaced
    target = target[part] as Record<string, unknown>;
  }
  target[parts.at(-1)!] = value;
}

/** An own, enumerable property even for `__proto__`, as JSON.parse makes it: what arrives over the wire. */
function addOwnKey(target: object | undefined, key: string, value: unknown): void {
  if (typeof target !== 'object' || target === null || Array.isArray(target)) return;
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
