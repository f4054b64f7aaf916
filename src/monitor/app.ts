/**
 * `start-workers --monitor`: an express app on MONITOR_PORT, under MONITOR_BASE_PATH, that takes no jobs.
 *   /health                         open: liveness
 *   /api/…                          the task API, Bearer API_TOKEN (api/router.ts; POST /api/tasks/:name is
 *                                   served before express, api/fast-enqueue.ts); /api/docs and openapi.json
 *                                   also open to a board login
 *   /webhooks/…  /unsubscribe       their own auth: signatures, basic auth of their own, tokens (webhooks/)
 *   /queues  /workers  /templates  /outbox  /deliveries  /suppressions  /dead-letters  /metrics
 *                                   basic auth, operator or viewer
 * Loaded only by src/cli/monitor.ts: a worker process never loads express or Bull Board.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import { maskEmail, maskEmailsIn, type Logger } from '../logger.js';
import type { JobsOptions } from 'bullmq';
import { batched } from '../db/batch.js';
import { createLedger } from '../db/ledger/index.js';
import { openDatabase } from '../db/open-database.js';
import { createSuppressionList } from '../db/suppressions.js';
import { loadTemplates } from '../mail/templates.js';
import { createRedis, waitUntilReady } from '../queues/connection.js';
import { livenessBody } from '../queues/health-server.js';
import { listWorkers } from '../queues/heartbeat.js';
import { registerQueueGauges } from '../queues/metrics.js';
import { openQueues, type QueueHandles } from '../queues/open-queues.js';
import { queuePrefix } from '../queues/connection.js';
import { deadLetterAdmin } from '../queues/dead-letter-admin.js';
import { DEAD_LETTER_QUEUE, openDeadLetters } from '../queues/dead-letter.js';
import { createJobState } from '../queues/job-state.js';
import { QUEUE_NAMES } from '../tasks/define-task.js';
import type { ApiContext } from './api/context.js';
import { openApiDocument } from './api/openapi.js';
import { enqueueFastPath } from './api/fast-enqueue.js';
import { createApiRouter } from './api/router.js';
import { basicAuth, bearerAuth, sameOriginChanges, viewerOf, viewerReadsOnly } from './auth.js';
import { createBoards } from './board.js';
import { createFailedLogins } from './failed-logins.js';
import { apiDocsPage } from './pages/api-docs.js';
import { deadLetterQuery, deadLettersPage } from './pages/dead-letters.js';
import { deliveriesPage, deliveryQuery, toFilter, unknownFirst } from './pages/deliveries.js';
import { OPEN_WARNING, type PageContext } from './pages/layout.js';
import { outboxPage } from './pages/outbox.js';
import { suppressionsPage } from './pages/suppressions.js';
import { renderGallery, templatesPage } from './pages/templates.js';
import { workersPage } from './pages/workers.js';
import { ledgerResolver, NothingToResolveError, type ResolveDelivery } from './resolve-delivery.js';
import { createWebhookRouter } from './webhooks/router.js';

export interface MonitorOptions {
  /** Overrides MONITOR_PORT (tests pass 0 for a free port). */
  port?: number;
  host?: string;
  resolveDelivery?: ResolveDelivery;
  version?: string;
}

export interface Monitor {
  readonly port: number;
  /** `http://127.0.0.1:<port><base path>` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Natural batching of the API's enqueues: adds that arrive while one is in flight go to Redis together, one
 * `addBulk` per queue (a busy API pays one round trip per batch, an idle one adds at once).
 */
function batchedAdd(handles: QueueHandles): ApiContext['add'] {
  const adders = new Map(
    QUEUE_NAMES.map((name) => [
      name,
      batched(
        (jobs: Array<{ name: string; data: unknown; opts: JobsOptions }>) => handles.get(name).addBulk(jobs),
        500,
      ),
    ]),
  );
  return (queue, name, data, opts) => adders.get(queue)!({ name, data, opts });
}

/** What stops the monitor from starting: in production it never runs without logins. */
export function monitorProblems(config: Config): string[] {
  if (config.env !== 'production') return [];
  const problems: string[] = [];
  if (!config.monitor.operator) {
    problems.push('MONITOR_USER, MONITOR_PASSWORD: required in production (the monitor does not run open)');
  }
  if (!config.monitor.apiToken)
    problems.push('API_TOKEN: required in production (the task API does not run open)');
  return problems;
}

export async function startMonitor(
  config: Config,
  logger: Logger,
  options: MonitorOptions = {},
): Promise<Monitor> {
  const problems = monitorProblems(config);
  if (problems.length) throw new ConfigError(problems);
  const closers: Array<() => Promise<unknown> | unknown> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
  };
  try {
    const base = config.monitor.basePath;
    const open = !config.monitor.operator;
    const outboxInUse = !config.smtp.host && config.env !== 'production';
    const templates = loadTemplates({
      dir: config.templatesDir,
      brand: config.brand,
      defaults: config.defaults,
    });
    const gallery = await renderGallery(templates, config.templatesDir, config.defaults);

    // Fails fast while Redis is down: an HTTP request answers 503 rather than hanging.
    const redis = createRedis(config.redis, 'producer', (error) =>
      logger.warn({ err: error.message }, 'redis connection error'),
    );
    redis.connect().catch(() => undefined);
    closers.push(() => redis.disconnect());
    const handles = openQueues(QUEUE_NAMES, redis, config, logger);
    closers.push(() => handles.close());
    const queues = [...handles.queues.values()];
    const deadLetterQueue = openDeadLetters(redis, queuePrefix(config.redis, DEAD_LETTER_QUEUE));
    closers.push(() => deadLetterQueue.close());
    const deadLetters = deadLetterAdmin({
      deadLetters: deadLetterQueue.queue,
      queueFor: (name) => handles.queues.get(name as never),
      jobState: createJobState(redis, (queue) => queuePrefix(config.redis, queue)),
      redis,
      keys: config.encryption.keys,
    });

    const database = await openDatabase(config, {
      onIdleError: (error) => logger.warn({ err: error.message }, 'idle database connection lost'),
    });
    if (database) closers.push(() => database.close());
    const ledger = database ? createLedger(database.pool, config.ledger.schema) : undefined;
    const resolveDelivery = options.resolveDelivery ?? ledgerResolver(ledger, handles);
    const suppressions = database ? createSuppressionList(database.pool, config.ledger.schema) : undefined;

    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    registerQueueGauges(registry, () => queues);

    const failures = createFailedLogins();
    const app = express();
    app.disable('x-powered-by');
    const router = express.Router();
    const context = (res: Response): PageContext => ({
      basePath: base,
      viewer: viewerOf(res),
      outbox: outboxInUse,
    });

    router.get('/health', (_req, res) => void res.json(livenessBody()));

    const apiDocument = () => openApiDocument(`${base}/api`, options.version ?? '0.0.0');
    const loginAuth = basicAuth(config.monitor, failures);
    const tokenAuth = bearerAuth(config.monitor.apiToken, failures, (res, status, code, message) =>
      res.status(status).json({ error: { code, message } }),
    );
    // The API's description opens to either credential: a person reads it in a browser, a client fetches it.
    const eitherAuth = (req: Request, res: Response, next: NextFunction) =>
      /^Bearer /i.test(req.headers.authorization ?? '')
        ? tokenAuth(req, res, next)
        : loginAuth(req, res, next);
    router.get('/api/openapi.json', eitherAuth, (_req, res) => void res.json(apiDocument()));
    router.get(
      '/api/docs',
      eitherAuth,
      (_req, res) => void res.type('html').send(apiDocsPage(base, apiDocument() as never)),
    );
    const apiContext: ApiContext = { config, redis, queues: handles, add: batchedAdd(handles), deadLetters };
    router.use('/api', createApiRouter(apiContext, failures, logger));
    const fastEnqueue = enqueueFastPath(base, apiContext, failures, logger);

    // Relays and recipients authenticate on their own terms (signatures, tokens), never with a board login.
    router.use(createWebhookRouter({ config: config.deliverability, suppressions, ledger, logger }));

    router.use(loginAuth, sameOriginChanges, viewerReadsOnly);
    const boards = createBoards(queues, {
      basePath: `${base}/queues`,
      title: open ? `email-workers · ${OPEN_WARNING}` : 'email-workers',
      links: [
        { text: 'Workers', url: `${base}/workers` },
        { text: 'Templates', url: `${base}/templates` },
        ...(outboxInUse ? [{ text: 'Outbox', url: `${base}/outbox` }] : []),
        { text: 'Deliveries', url: `${base}/deliveries` },
        { text: 'Dead letters', url: `${base}/dead-letters` },
        { text: 'Task API', url: `${base}/api/docs` },
      ],
    });
    // Pages that read Redis wait for the connection a moment, then say it is down instead of failing.
    const redisReady = (_req: Request, res: Response, next: NextFunction) =>
      waitUntilReady(redis, 1_000).then(next, () => {
        res.status(503).set('Retry-After', '1').type('text/plain').send('Redis is unavailable\n');
      });
    router.use('/queues', redisReady, (req, res, next) => boards[viewerOf(res).role](req, res, next));
    router.get('/', (_req, res) => res.redirect(`${base}/queues`));
    router.get('/workers', redisReady, async (_req, res) => {
      res.type('html').send(workersPage(context(res), await listWorkers(redis, config.redis)));
    });
    router.get('/templates', (_req, res) => void res.type('html').send(templatesPage(context(res), gallery)));
    router.get('/outbox', async (_req, res) => {
      if (!outboxInUse)
        return void res.status(404).type('text/plain').send('no capture server: SMTP_HOST is set\n');
      res.type('html').send(await outboxPage(context(res), config.smtp.outboxDir));
    });
    router.get('/deliveries', async (req, res) => {
      const query = deliveryQuery(req.query);
      if (!ledger) return void res.type('html').send(deliveriesPage(context(res), query, undefined));
      const filter = toFilter(query);
      const [unknown, rest] = await Promise.all([
        filter.status && filter.status !== 'unknown' ? [] : ledger.list({ ...filter, status: 'unknown' }),
        filter.status === 'unknown' ? [] : ledger.list(filter),
      ]);
      res.type('html').send(deliveriesPage(context(res), query, unknownFirst(unknown, rest, query.limit)));
    });
    router.post(
      '/deliveries/resolve',
      express.urlencoded({ extended: false, limit: '4kb' }),
      async (req, res) => {
        const { key, resolution } = (req.body ?? {}) as { key?: unknown; resolution?: unknown };
        if (typeof key !== 'string' || !key || (resolution !== 'sent' && resolution !== 'resend')) {
          return void res.status(400).type('text/plain').send('expected key and resolution=sent|resend\n');
        }
        const who = `monitor:${viewerOf(res).user}`;
        let resolved;
        try {
          resolved = await resolveDelivery(key, resolution, who);
        } catch (error) {
          if (!(error instanceof NothingToResolveError)) throw error;
          return void res.status(409).type('text/plain').send(`${error.message}\n`);
        }
        logger.info(
          { key, resolution, by: who, replayed: resolved.replayed },
          'delivery resolved from the monitor',
        );
        res.redirect(303, `${base}/deliveries?status=unknown`);
      },
    );
    router.get('/suppressions', async (req, res) => {
      const search = typeof req.query.search === 'string' ? req.query.search.trim().slice(0, 254) : undefined;
      const rows = await suppressions?.list({ search: search || undefined, limit: 500 });
      res.type('html').send(suppressionsPage(context(res), search, rows));
    });
    const editSuppressions = express.urlencoded({ extended: false, limit: '4kb' });
    router.post('/suppressions', editSuppressions, async (req, res) => {
      const { address, days } = (req.body ?? {}) as { address?: unknown; days?: unknown };
      const term = typeof days === 'string' && days.trim() ? Number(days) : undefined;
      if (!suppressions) return void res.status(503).type('text/plain').send('no database configured\n');
      if (typeof address !== 'string' || !/^[^\s@]{1,200}@[^\s@]{1,200}$/.test(address.trim()))
        return void res.status(400).type('text/plain').send('expected an email address\n');
      if (term !== undefined && !(Number.isInteger(term) && term >= 1 && term <= 36_500))
        return void res.status(400).type('text/plain').send('expected days from 1 to 36500\n');
      await suppressions.add({
        address,
        reason: 'manual',
        source: `monitor:${viewerOf(res).user}`,
        days: term,
      });
      logger.info({ to: maskEmail(address), by: viewerOf(res).user }, 'address suppressed from the monitor');
      res.redirect(303, `${base}/suppressions`);
    });
    router.post('/suppressions/remove', editSuppressions, async (req, res) => {
      const { address } = (req.body ?? {}) as { address?: unknown };
      if (!suppressions) return void res.status(503).type('text/plain').send('no database configured\n');
      if (typeof address !== 'string' || !address.trim())
        return void res.status(400).type('text/plain').send('expected an address\n');
      await suppressions.remove(address);
      logger.info(
        { to: maskEmail(address), by: viewerOf(res).user },
        'address unsuppressed from the monitor',
      );
      res.redirect(303, `${base}/suppressions`);
    });
    router.get('/dead-letters', redisReady, async (req, res) => {
      const query = deadLetterQuery(req.query);
      const since = query.since_hours ? new Date(Date.now() - query.since_hours * 3_600_000) : undefined;
      const letters = await deadLetters.list({ task: query.task, since, limit: query.limit });
      res.type('html').send(deadLettersPage(context(res), query, letters));
    });
    router.post(
      '/dead-letters/replay',
      redisReady,
      express.urlencoded({ extended: false, limit: '4kb' }),
      async (req, res) => {
        const { id } = (req.body ?? {}) as { id?: unknown };
        if (typeof id !== 'string' || !id || id.length > 600) {
          return void res.status(400).type('text/plain').send('expected id\n');
        }
        const result = await deadLetters.replay(id);
        const who = `monitor:${viewerOf(res).user}`;
        logger.info(
          { deadLetter: maskEmailsIn(id), by: who, replayed: result.replayed },
          'dead letter replayed from the monitor',
        );
        const notice = `${maskEmailsIn(id)}: ${result.replayed ? 'replayed' : 'refused'}: ${result.detail}`;
        res.redirect(303, `${base}/dead-letters?notice=${encodeURIComponent(notice)}`);
      },
    );
    router.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
    router.use((_req, res) => void res.status(404).type('text/plain').send('not found\n'));
    router.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
      logger.error({ err: error.message }, 'monitor error');
      res.status(500).type('text/plain').send('internal error (logged)\n');
    });
    app.use(base || '/', router);

    const server = createServer((req, res) => {
      if (!fastEnqueue(req, res)) app(req, res);
    }).listen(options.port ?? config.monitor.port, options.host ?? '0.0.0.0');
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const port = (server.address() as AddressInfo).port;
    if (open) logger.warn(OPEN_WARNING);
    logger.info({ port, basePath: base || '/' }, 'monitor listening');
    return { port, url: `http://127.0.0.1:${port}${base}`, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
