/**
 * Celery's task message, as any transport delivers it: protocol 2 (task and id in the headers, body
 * `[args, kwargs, embed]`) and protocol 1 (everything in a body dict), JSON serializer only. A body in any other
 * serializer (pickle above all) is refused before a byte of it is decoded: it is never executed.
 * https://docs.celeryq.dev/en/stable/internals/protocol.html
 */
import { inflateSync } from 'node:zlib';
import { UndecodableMessageError } from '../errors.js';

/** A transport's message, before the body is read. */
export interface CeleryEnvelope {
  body: Buffer;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  headers: Record<string, unknown>;
  /** The message's priority property, as the producer's transport set it. */
  priority: number | undefined;
}

/** One message from a transport: its envelope, or undefined when the transport's own framing did not parse. */
export interface CeleryDelivery {
  /** The Celery queue it came from. */
  queue: string;
  /** The message as received, its body left out (the body goes into a dead letter only when it is JSON). */
  raw: unknown;
  envelope: CeleryEnvelope | undefined;
}

/** A transport: hands batches to `handle` and acknowledges each batch to the broker once `handle` resolves. */
export interface CeleryConsumer {
  start(handle: (deliveries: CeleryDelivery[]) => Promise<void>): void;
  /** Stops reading; a batch in hand is finished or left unacknowledged, then the connections close. */
  close(): Promise<void>;
}

export interface CeleryTask {
  /** Celery's task id: the idempotency key. */
  id: string;
  /** The task name as sent, qualified (`email_workers.tasks.x`) or bare. */
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  eta: Date | undefined;
  expires: Date | undefined;
  ignoreResult: boolean;
  protocol: 1 | 2;
  /** Callbacks, errbacks, a chain or a chord: the canvas is not run by the bridge. */
  hasLinks: boolean;
}

const JSON_TYPES = new Set(['application/json', 'application/x-json', 'text/json']);
const MAX_ID_LENGTH = 256;
/**
 * A task message's body, inflated: the HTTP task API's limit. A few kilobytes of zlib can inflate to gigabytes;
 * inflating stops here instead of taking the bridge's memory.
 */
export const MAX_BODY_BYTES = 64 * 1024;

export function decodeCeleryMessage(envelope: CeleryEnvelope): CeleryTask {
  const contentType = envelope.contentType?.split(';')[0]?.trim().toLowerCase();
  if (!contentType || !JSON_TYPES.has(contentType)) {
    throw new UndecodableMessageError(
      `unsupported serializer ${contentType ?? '(no content type)'}: only JSON is accepted; the body was not decoded`,
    );
  }
  const body = parseJson(decompress(envelope.body, envelope.headers.compression));
  const headers = envelope.headers;
  if (typeof headers.task === 'string' && headers.task !== '') return fromProtocol2(headers, body);
  if (isObject(body) && typeof body.task === 'string') return fromProtocol1(body);
  throw new UndecodableMessageError('not a Celery task message: no task name in the headers or the body');
}

/** The body as JSON, for a dead letter; undefined when it is not JSON (it is then described, not stored). */
export function readableBody(envelope: CeleryEnvelope): unknown {
  const contentType = envelope.contentType?.split(';')[0]?.trim().toLowerCase();
  if (!contentType || !JSON_TYPES.has(contentType)) return undefined;
  try {
    return parseJson(decompress(envelope.body, envelope.headers.compression));
  } catch {
    return undefined;
  }
}

function fromProtocol2(headers: Record<string, unknown>, body: unknown): CeleryTask {
  if (!Array.isArray(body) || body.length < 2) {
    throw new UndecodableMessageError('protocol 2 body is not [args, kwargs, embed]');
  }
  const [args, kwargs, embed] = body as [unknown, unknown, unknown];
  return {
    id: taskId(headers.id),
    task: headers.task as string,
    args: argsOf(args),
    kwargs: kwargsOf(kwargs),
    eta: dateOf(headers.eta, 'eta'),
    expires: dateOf(headers.expires, 'expires'),
    ignoreResult: headers.ignore_result === true,
    protocol: 2,
    hasLinks:
      isObject(embed) &&
      ['callbacks', 'errbacks', 'chain', 'chord'].some(
        (key) => embed[key] !== null && embed[key] !== undefined,
      ),
  };
}

function fromProtocol1(body: Record<string, unknown>): CeleryTask {
  return {
    id: taskId(body.id),
    task: body.task as string,
    args: argsOf(body.args ?? []),
    kwargs: kwargsOf(body.kwargs ?? {}),
    eta: dateOf(body.eta, 'eta'),
    expires: dateOf(body.expires, 'expires'),
    ignoreResult: false,
    protocol: 1,
    hasLinks: ['callbacks', 'errbacks', 'chord'].some((key) => body[key] !== null && body[key] !== undefined),
  };
}

function decompress(body: Buffer, compression: unknown): Buffer {
  if (compression === undefined || compression === null) return bounded(body);
  // kombu's "gzip" is zlib.compress: a zlib stream.
  if (compression === 'application/x-gzip' || compression === 'zlib') {
    let inflated: Buffer;
    try {
      inflated = inflateSync(body, { maxOutputLength: MAX_BODY_BYTES + 1 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
      throw new UndecodableMessageError(`body does not inflate (compression ${compression})`);
    }
    return bounded(inflated);
  }
  throw new UndecodableMessageError(`unsupported compression ${String(compression)}`);
}

function bounded(body: Buffer): Buffer {
  if (body.length > MAX_BODY_BYTES) throw tooLarge();
  return body;
}

function tooLarge(): UndecodableMessageError {
  return new UndecodableMessageError(`body is over ${MAX_BODY_BYTES} bytes; it was not decoded`);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new UndecodableMessageError(`body is not valid JSON (${(error as Error).message})`);
  }
}

function taskId(id: unknown): string {
  if (typeof id !== 'string' || id === '' || id.length > MAX_ID_LENGTH) {
    throw new UndecodableMessageError(`task id: expected a string of 1 to ${MAX_ID_LENGTH} characters`);
  }
  return id;
}

function argsOf(args: unknown): unknown[] {
  if (!Array.isArray(args)) throw new UndecodableMessageError('args: expected a list');
  return args;
}

function kwargsOf(kwargs: unknown): Record<string, unknown> {
  if (!isObject(kwargs)) throw new UndecodableMessageError('kwargs: expected a dict');
  return kwargs;
}

/** Celery sends ISO 8601; a time without an offset is UTC (Celery's `enable_utc`, the default since 3.0). */
function dateOf(value: unknown, field: string): Date | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') {
    const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
    const date = new Date(withZone);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new UndecodableMessageError(`${field}: expected an ISO 8601 date and time`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
