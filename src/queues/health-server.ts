/**
 * `HEALTH_PORT` on every worker process: `/health` (liveness), `/health/ready` (readiness) and `/metrics`
 * (Prometheus). Plain node:http, so a worker loads no web framework.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { StartupError } from '../errors.js';
import { checkReadiness, type ComponentProbe, type Readiness } from './readiness.js';

export interface HealthServerOptions {
  port: number;
  /** 0.0.0.0 by default: an orchestrator probes from outside the container. */
  host?: string;
  probes: readonly ComponentProbe[];
  registry: Registry;
  /** In place of the probes and the registry: what `start-workers --processes N` gathers from its processes. */
  gathered?: {
    readiness(): Promise<Readiness>;
    metrics(): Promise<string>;
    /** Added to the liveness body (the supervisor's processes). */
    liveness(): Record<string, unknown>;
  };
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

/** The liveness body: answered while the event loop turns, whatever the components say. */
export function livenessBody(): { status: 'healthy'; service: 'email_workers'; timestamp: string } {
  return { status: 'healthy', service: 'email_workers', timestamp: new Date().toISOString() };
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  // Probes are not free (an SMTP handshake): requests that arrive together share one round.
  let inFlight: Promise<Readiness> | undefined;
  const check = options.gathered?.readiness ?? (() => checkReadiness(options.probes));
  const readiness = () =>
    (inFlight ??= check().finally(() => {
      inFlight = undefined;
    }));

  const server = createServer((request, response) => {
    route(request, response).catch((error: Error) => send(response, 500, { error: error.message }));
  });
  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, { error: 'GET only' });
    } else if (path === '/health') {
      send(response, 200, { ...livenessBody(), ...options.gathered?.liveness() });
    } else if (path === '/health/ready') {
      const { ready, components } = await readiness();
      send(response, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', components });
    } else if (path === '/metrics') {
      const text = await (options.gathered?.metrics() ?? options.registry.metrics());
      response.writeHead(200, { 'content-type': options.registry.contentType }).end(text);
    } else {
      send(response, 404, { error: 'not found: /health, /health/ready, /metrics' });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new StartupError(
          error.code === 'EADDRINUSE'
            ? `HEALTH_PORT ${options.port} is in use: set HEALTH_PORT to a free port, or 0 to disable`
            : `the health server cannot listen on ${options.port}: ${error.message}`,
        ),
      ),
    );
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response
    .writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
    .end(JSON.stringify(body));
}
