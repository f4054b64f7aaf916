/**
 * `POST /api/tasks/:name` straight on node:http, before express. It is the one route producers call at volume,
 * and express's layers (its request and response objects, the route table, the body parser, ETags) cost about a
 * third of the monitor's CPU per task. It answers exactly as the express route does: the same Bearer check, the
 * same 64 KiB limit, the same handler (runApiRoute) and the same error shape. Anything it does not take on —
 * another path, a compressed body, a charset other than UTF-8, a name that does not decode — goes to express.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';
import type { Logger } from '../../logger.js';
import { bearerCheck, clientAddress } from '../auth.js';
import type { FailedLogins } from '../failed-logins.js';
import { ApiError, malformedJson, MAX_BODY_BYTES, payloadTooLarge } from './api-error.js';
import type { ApiContext, ApiReply } from './context.js';
import { errorReply, runApiRoute } from './router.js';
import { API_ROUTES } from './routes.js';

/** Handles the request and says true, or says false and leaves it untouched. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

export function enqueueFastPath(
  basePath: string,
  context: ApiContext,
  failures: FailedLogins,
  logger: Logger,
): FastPath {
  const route = API_ROUTES.find((candidate) => candidate.path === '/tasks/:name')!;
  const prefix = `${basePath}/api/tasks/`;
  const authorize = bearerCheck(context.config.monitor.apiToken, failures);

  return (req, res) => {
    // A `#` in the request target ends express's path (parseurl): rare enough to leave to express.
    if (req.method !== 'POST' || !req.url?.startsWith(prefix) || req.url.includes('#')) return false;
    const name = taskName(req.url.slice(prefix.length));
    if (name === undefined || !plainUtf8(req)) return false;

    const refusal = authorize(req.headers.authorization, clientAddress(req));
    if (refusal) {
      const { status, code, message, headers } = refusal;
      // The body stays unread: the connection closes after the answer rather than take it in.
      reply(res, { status, headers, body: new ApiError(status, code, message).toBody() }, true);
      return true;
    }
    readBody(req, (error, text) => {
      if (error) return reply(res, errorReply(error), true);
      let body: unknown;
      try {
        body = text === '' ? {} : JSON.parse(text);
      } catch (parseError) {
        return reply(res, errorReply(malformedJson((parseError as Error).message)));
      }
      const query = req.url!.indexOf('?');
      void runApiRoute(
        route,
        {
          params: { name },
          query: query < 0 ? {} : { ...parseQueryString(req.url!.slice(query + 1)) },
          body,
          header: (header) => {
            const value = req.headers[header.toLowerCase()];
            return Array.isArray(value) ? value.join(', ') : value;
          },
        },
        context,
        logger,
      ).then((answer) => reply(res, answer));
    });
    return true;
  };
}

/** The `:name` of `<name>[?query]`, decoded as express decodes it; undefined when express must decide. */
function taskName(rest: string): string | undefined {
  const end = rest.indexOf('?');
  const raw = end < 0 ? rest : rest.slice(0, end);
  if (!raw || raw.includes('/')) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * A body JSON.parse can read as it comes: not compressed, UTF-8 (or no charset said). Only the spelling
 * `utf-8`: the body parser refuses `utf8` with 415, and express answers that.
 */
function plainUtf8(req: IncomingMessage): boolean {
  const encoding = req.headers['content-encoding'];
  if (encoding && encoding.toLowerCase() !== 'identity') return false;
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1];
  return !charset || /^utf-8$/i.test(charset);
}

function readBody(req: IncomingMessage, done: (error: ApiError | undefined, text: string) => void): void {
  if (Number(req.headers['content-length']) > MAX_BODY_BYTES) return done(payloadTooLarge(), '');
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (error: ApiError | undefined) => {
    if (finished) return;
    finished = true;
    // A leading byte order mark is dropped, as the body parser's decoder drops it (JSON.parse would refuse it).
    done(
      error,
      error
        ? ''
        : Buffer.concat(chunks, size)
            .toString('utf8')
            .replace(/^\uFEFF/, ''),
    );
  };
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) finish(payloadTooLarge());
    else if (!finished) chunks.push(chunk);
  });
  req.once('end', () => finish(undefined));
  // The client went away mid-body: there is no one left to answer.
  req.once('error', () => (finished = true));
  req.once('close', () => {
    if (!req.complete) finished = true;
  });
}

/** Writes the answer as express's res.json would; `close` ends a connection whose body was left unread. */
function reply(res: ServerResponse, answer: ApiReply, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const json = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    ...answer.headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    ...(close ? { Connection: 'close' } : {}),
  });
  res.end(json);
}
