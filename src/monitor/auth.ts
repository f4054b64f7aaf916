/**
 * Who may do what. The board and the pages take HTTP basic auth with two roles: the operator
 * (MONITOR_USER/MONITOR_PASSWORD) and the optional read-only viewer. The task API takes only its Bearer token:
 * a board login does not open the API, nor the token the board. Secrets are compared in constant time, and an
 * address that keeps failing gets 429 with Retry-After.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { MonitorConfig } from '../config.js';
import type { FailedLogins } from './failed-logins.js';

export type Role = 'operator' | 'viewer';

/** Set on `res.locals` by {@link basicAuth}. */
export interface Viewer {
  role: Role;
  user: string;
  /** No login configured (development only): everyone is the operator, and every page says so. */
  open: boolean;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * A constant-time check against one secret: equal-length digests, so neither the content nor the length of the
 * secret shows in the timing. The secret's digest is computed once.
 */
export function secretMatcher(expected: string): (given: string) => boolean {
  const expectedDigest = digest(expected);
  return (given) => timingSafeEqual(digest(given), expectedDigest);
}

export function viewerOf(res: Response): Viewer {
  return res.locals.viewer as Viewer;
}

export function basicAuth(config: MonitorConfig, failures: FailedLogins): RequestHandler {
  const { operator, viewer } = config;
  const matchers = operator && {
    operatorUser: secretMatcher(operator.user),
    operatorPassword: secretMatcher(operator.password),
    // Without a viewer login these compare against the operator's, so every request costs the same.
    viewerUser: secretMatcher((viewer ?? operator).user),
    viewerPassword: secretMatcher((viewer ?? operator).password),
  };
  return (req, res, next) => {
    if (!matchers) {
      res.locals.viewer = { role: 'operator', user: 'anyone', open: true } satisfies Viewer;
      return next();
    }
    if (tooMany(req, res, failures, () => res.type('text/plain').send('too many failed logins\n'))) return;
    const [user, password] = basicCredentials(req.headers.authorization);
    // Every comparison runs: which part failed, and for which login, must not show in the timing either.
    const checks = [
      matchers.operatorUser(user),
      matchers.operatorPassword(password),
      matchers.viewerUser(user),
      matchers.viewerPassword(password),
    ];
    const asOperator = checks[0]! && checks[1]!;
    const asViewer = viewer !== undefined && checks[2]! && checks[3]!;
    if (asOperator || asViewer) {
      res.locals.viewer = { role: asOperator ? 'operator' : 'viewer', user, open: false } satisfies Viewer;
      return next();
    }
    if (req.headers.authorization) failures.record(clientAddress(req));
    res
      .status(401)
      .set('WWW-Authenticate', 'Basic realm="email-workers monitor", charset="UTF-8"')
      .type('text/plain')
      .send('login required\n');
  };
}

/** Why a request was refused: what to answer, in whatever shape the caller writes errors. */
export interface Refusal {
  status: 401 | 429;
  code: 'UNAUTHORIZED' | 'TOO_MANY_REQUESTS';
  message: string;
  headers: Record<string, string>;
}

/**
 * The task API's Bearer token, checked without a framework (express's routes and the enqueue fast path both use
 * it): undefined when the request may pass. Without API_TOKEN (development only) the API is open.
 */
export function bearerCheck(
  token: string | undefined,
  failures: FailedLogins,
): (authorization: string | undefined, address: string) => Refusal | undefined {
  const matches = token ? secretMatcher(token) : undefined;
  return (authorization, address): Refusal | undefined => {
    if (!matches) return undefined;
    // The right token passes even from an address that is held back: producers often share one (a NAT, the
    // proxy in front of the monitor), and someone guessing there must not stop their emails. A token of 16 or
    // more characters is not guessed in any window, so only the wrong ones need slowing down.
    const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (match && matches(match[1]!.trim())) return undefined;
    const wait = failures.retryAfterS(address);
    if (wait > 0) {
      return {
        status: 429,
        code: 'TOO_MANY_REQUESTS',
        message: 'too many failed logins',
        headers: { 'Retry-After': String(wait) },
      };
    }
    if (authorization) failures.record(address);
    return {
      status: 401,
      code: 'UNAUTHORIZED',
      message: 'a valid Authorization: Bearer API_TOKEN header is required',
      headers: { 'WWW-Authenticate': 'Bearer realm="email-workers api"' },
    };
  };
}

/** {@link bearerCheck} as express middleware; `reject` writes the API's error shape. */
export function bearerAuth(
  token: string | undefined,
  failures: FailedLogins,
  reject: (res: Response, status: number, code: string, message: string) => void,
): RequestHandler {
  const check = bearerCheck(token, failures);
  return (req, res, next) => {
    const refusal = check(req.headers.authorization, clientAddress(req));
    if (!refusal) return next();
    res.set(refusal.headers);
    reject(res, refusal.status, refusal.code, refusal.message);
  };
}

/** The viewer reads: anything but GET and HEAD is refused (Bull Board's own read-only mode says 405). */
export function viewerReadsOnly(req: Request, res: Response, next: NextFunction): void {
  if (viewerOf(res).role === 'viewer' && req.method !== 'GET' && req.method !== 'HEAD') {
    res.status(403).type('text/plain').send('forbidden: the viewer login is read-only\n');
    return;
  }
  next();
}

/**
 * Basic auth travels with every request a browser makes, cross-site ones included: a change (any method but
 * GET and HEAD) coming from another origin is refused.
 */
export function sameOriginChanges(req: Request, res: Response, next: NextFunction): void {
  const origin = req.headers.origin;
  if (req.method === 'GET' || req.method === 'HEAD' || !origin) return next();
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host !== req.headers.host) {
    res.status(403).type('text/plain').send('forbidden: cross-origin request\n');
    return;
  }
  next();
}

function tooMany(req: Request, res: Response, failures: FailedLogins, reply: () => void): boolean {
  const wait = failures.retryAfterS(clientAddress(req));
  if (wait === 0) return false;
  res.status(429).set('Retry-After', String(wait));
  reply();
  return true;
}

export function clientAddress(req: { socket: { remoteAddress?: string | undefined } }): string {
  // No `trust proxy`: the address is the peer's, as express's req.ip would say.
  return req.socket.remoteAddress ?? 'unknown';
}

function basicCredentials(header: string | undefined): [string, string] {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!match) return ['', ''];
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? [decoded, ''] : [decoded.slice(0, colon), decoded.slice(colon + 1)];
}
