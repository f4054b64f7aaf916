/**
 * The task API under `/api`: Bearer auth, JSON bodies up to 64 KiB, the route table, and one error shape for
 * everything that goes wrong (a malformed body, an unknown route, Redis down, a bug).
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from '../../logger.js';
import { isRedisConnectionError, waitUntilReady } from '../../queues/connection.js';
import { bearerAuth } from '../auth.js';
import type { FailedLogins } from '../failed-logins.js';
import { ApiError, malformedJson, MAX_BODY_BYTES, payloadTooLarge, queueUnavailable } from './api-error.js';
import type { ApiContext, ApiReply, ApiRequest } from './context.js';
import { API_ROUTES, type ApiRoute } from './routes.js';

/** How long a request waits for a connection to Redis before it answers 503, having done nothing. */
const READY_TIMEOUT_MS = 1_000;

export function sendApiError(res: Response, error: ApiError): void {
  res.status(error.status).set(error.headers).json(error.toBody());
}

export function createApiRouter(context: ApiContext, failures: FailedLogins, logger: Logger): Router {
  const router = express.Router();
  router.use(
    // Retry-After and WWW-Authenticate are already set on `res` by then.
    bearerAuth(context.config.monitor.apiToken, failures, (res, status, code, message) =>
      res.status(status).json(new ApiError(status, code, message).toBody()),
    ),
  );
  // Any content type is read as JSON: a producer that forgets the header still gets a precise answer.
  router.use(express.json({ limit: MAX_BODY_BYTES, type: () => true, strict: false }));

  for (const route of API_ROUTES) {
    router[route.method](route.path, async (req: Request, res: Response) => {
      const reply = await runApiRoute(
        route,
        {
          params: req.params as Record<string, string>,
          query: req.query as Record<string, unknown>,
          body: req.body,
          header: (name) => req.get(name),
        },
        context,
        logger,
      );
      res
        .status(reply.status)
        .set(reply.headers ?? {})
        .json(reply.body);
    });
  }
  router.use((req, res) =>
    sendApiError(res, new ApiError(404, 'NOT_FOUND', `no route ${req.method} ${req.baseUrl}${req.path}`)),
  );
  router.use((error: Error & { type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    if (error.type === 'entity.too.large') return sendApiError(res, payloadTooLarge());
    if (error.type === 'entity.parse.failed') return sendApiError(res, malformedJson(error.message));
    // Express's own refusals of a request it cannot read, e.g. a path parameter that is not valid %-encoding.
    if ((error as { status?: unknown }).status === 400) {
      return sendApiError(res, new ApiError(400, 'INVALID_REQUEST', error.message));
    }
    if (error.type === 'charset.unsupported' || error.type === 'encoding.unsupported') {
      return sendApiError(res, new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', error.message));
    }
    sendApiError(res, asApiError(error, context, logger));
  });
  return router;
}

/**
 * A route's handler, once Redis answers (503 within about a second when it does not, having done nothing), with
 * every failure turned into the API's error shape: what express's routes and the enqueue fast path both answer.
 */
export async function runApiRoute(
  route: ApiRoute,
  request: ApiRequest,
  context: ApiContext,
  logger: Logger,
): Promise<ApiReply> {
  try {
    await waitUntilReady(context.redis, READY_TIMEOUT_MS).catch(() => {
      throw queueUnavailable('Redis is unavailable: nothing was done; retry shortly');
    });
    return await route.handler(request, context);
  } catch (error) {
    return errorReply(asApiError(error, context, logger));
  }
}

export function errorReply(error: ApiError): ApiReply {
  return { status: error.status, headers: error.headers, body: error.toBody() };
}

function asApiError(error: unknown, context: ApiContext, logger: Logger): ApiError {
  if (error instanceof ApiError) return error;
  if (context.redis.status !== 'ready' || isRedisConnectionError(error)) {
    // The command may have reached Redis before the connection broke: a 503 (retry), not a bug's 500.
    return queueUnavailable(
      'Redis stopped answering during the request: it may or may not have taken effect; retry (with the same Idempotency-Key)',
    );
  }
  logger.error({ err: (error as Error).message }, 'task API error');
  return new ApiError(500, 'INTERNAL', 'internal error (logged)');
}
