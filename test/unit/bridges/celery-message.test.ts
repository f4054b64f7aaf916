import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  decodeCeleryMessage,
  MAX_BODY_BYTES,
  type CeleryEnvelope,
} from '../../../src/bridges/celery-message.js';
import { UndecodableMessageError } from '../../../src/errors.js';

const v2 = (body: unknown, headers: Record<string, unknown> = {}): CeleryEnvelope => ({
  body: Buffer.from(JSON.stringify(body)),
  contentType: 'application/json',
  contentEncoding: 'utf-8',
  headers: { task: 'email_workers.tasks.send_welcome_email', id: 'abc', ...headers },
  priority: undefined,
});

describe('decodeCeleryMessage', () => {
  it('reads protocol 2: task and id from the headers, [args, kwargs, embed] from the body', () => {
    const call = decodeCeleryMessage(
      v2([[1], { b: 2 }, { callbacks: null }], {
        eta: '2026-01-01T10:00:00.123456+00:00',
        ignore_result: true,
      }),
    );
    expect(call).toMatchObject({
      id: 'abc',
      task: 'email_workers.tasks.send_welcome_email',
      args: [1],
      kwargs: { b: 2 },
      ignoreResult: true,
      protocol: 2,
      hasLinks: false,
    });
    expect(call.eta?.toISOString()).toBe('2026-01-01T10:00:00.123Z');
  });

  it('reads protocol 1: everything in the body dict', () => {
    const envelope = {
      ...v2({ task: 'send_welcome_email', id: 'v1', args: [], kwargs: { a: 1 } }),
      headers: {},
    };
    expect(decodeCeleryMessage(envelope)).toMatchObject({
      id: 'v1',
      task: 'send_welcome_email',
      protocol: 1,
    });
  });

  it('reads a time without an offset as UTC', () => {
    const call = decodeCeleryMessage(v2([[], {}, {}], { expires: '2026-01-01T10:00:00' }));
    expect(call.expires?.toISOString()).toBe('2026-01-01T10:00:00.000Z');
  });

  it('inflates a body kombu compressed with zlib', () => {
    const envelope = v2(null, { compression: 'application/x-gzip' });
    envelope.body = deflateSync(Buffer.from(JSON.stringify([[], { x: 1 }, {}])));
    expect(decodeCeleryMessage(envelope).kwargs).toEqual({ x: 1 });
  });

  it('stops inflating a zlib bomb at the body limit, and refuses a plain body over it', () => {
    const bomb = v2(null, { compression: 'zlib' });
    // 64 MiB of spaces in about 64 KB of zlib: inflated whole, it would take the bridge's memory.
    bomb.body = deflateSync(
      Buffer.concat([Buffer.from('[[], {}, {}]'), Buffer.alloc(64 * 1024 * 1024, 0x20)]),
    );
    expect(() => decodeCeleryMessage(bomb)).toThrow(/body is over 65536 bytes; it was not decoded/);
    const large = v2([[], { x: 'a'.repeat(MAX_BODY_BYTES) }, {}]);
    expect(() => decodeCeleryMessage(large)).toThrow(UndecodableMessageError);
  });

  it('refuses pickle without reading the body', () => {
    const envelope = {
      ...v2(null),
      contentType: 'application/x-python-serialize',
      body: Buffer.from([0x80, 4]),
    };
    expect(() => decodeCeleryMessage(envelope)).toThrow(
      /unsupported serializer application\/x-python-serialize: only JSON is accepted/,
    );
  });

  it.each([
    ['yaml', { contentType: 'application/x-yaml' }, /unsupported serializer application\/x-yaml/],
    ['a body that is not JSON', { body: Buffer.from('{oops') }, /body is not valid JSON/],
    ['no task name', { headers: { id: 'x' } }, /no task name/],
    ['a missing id', { headers: { task: 't' } }, /task id: expected a string/],
    ['a bad eta', { headers: { task: 't', id: 'x', eta: 'soon' } }, /eta: expected an ISO 8601/],
  ])('refuses %s with the reason', (_what, change, reason) => {
    const envelope = { ...v2([[], {}, {}]), ...change } as CeleryEnvelope;
    expect(() => decodeCeleryMessage(envelope)).toThrow(UndecodableMessageError);
    expect(() => decodeCeleryMessage(envelope)).toThrow(reason);
  });

  it('notes callbacks and chains, which the bridge does not run', () => {
    expect(decodeCeleryMessage(v2([[], {}, { chain: [{}] }])).hasLinks).toBe(true);
  });
});
