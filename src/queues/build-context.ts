/**
 * Everything a worker process builds once before it takes a job, each step checked: templates compiled and every
 * sample rendered, Redis answering (and not evicting, in production), the SMTP pool, the database with the ledger's
 * migrations verified (or applied), and the users table. Redis and PostgreSQL that do not answer yet are waited
 * for, with a line every 5 s, rather than started without: no job is taken before the ledger is known to work.
 */
import type { Config } from '../config.js';
import { createLedger, type Ledger } from '../db/ledger/index.js';
import { migrate, pendingMigrations } from '../db/migrate.js';
import { openDatabase, type Database } from '../db/open-database.js';
import { isConnectionFailure } from '../db/pg-errors.js';
import { createUserDirectory } from '../db/users.js';
import { DatabaseNotConfiguredError, StartupError, TemplateError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Outbox } from '../mail/outbox.js';
import { loadTemplates, type Templates } from '../mail/templates.js';
import type { Sender } from '../mail/transport.js';
import { smtpTransport } from '../mail/transports/smtp.js';
import type { Transport } from '../mail/transports/transport.js';
import { tasks, TASK_NAMES } from '../tasks/registry.js';
import { renderSample } from '../tasks/render-sample.js';
import { createRedis, dataNodes, describeRedis, type RedisConnection } from './connection.js';
import type { Services } from './process-job.js';

export interface WorkerContext {
  templates: Templates;
  redis: RedisConnection;
  /** The primary relay (SMTP_HOST), or the development outbox. */
  mailer: Transport;
  /** SMTP_FALLBACK_HOST: critical tasks go through it while the primary's breaker is open. */
  fallback: Transport | undefined;
  outbox: Outbox | undefined;
  database: Database | undefined;
  ledger: Ledger | undefined;
  findRecipient: Services['findRecipient'];
}

/** Things to close, in the reverse order of their opening. */
export type Closers = Array<() => Promise<unknown> | unknown>;

const WAIT_LOG_INTERVAL_MS = 5_000;

export async function buildContext(
  config: Config,
  logger: Logger,
  closers: Closers,
  signal: AbortSignal | undefined,
): Promise<WorkerContext> {
  const unknownTasks = Object.keys(config.ledger.uncertainDelivery).filter(
    (name) => !Object.hasOwn(tasks, name),
  );
  if (unknownTasks.length) {
    throw new StartupError(
      `UNCERTAIN_DELIVERY: unknown task ${unknownTasks.join(', ')}; known: ${TASK_NAMES.join(', ')}`,
    );
  }
  const unknownEncrypted = Object.keys(config.encryption.fields).filter(
    (name) => !Object.hasOwn(tasks, name),
  );
  if (unknownEncrypted.length) {
    throw new StartupError(
      `ENCRYPTED_FIELDS: unknown task ${unknownEncrypted.join(', ')}; known: ${TASK_NAMES.join(', ')}`,
    );
  }
  const templates = await prepareTemplates(config);
  logger.info({ templates: templates.names.length }, 'templates compiled');

  const redis = createRedis(config.redis, 'worker', (error) =>
    logger.debug({ err: error.message }, 'redis connection error'),
  );
  // quit() waits for Redis, which may be gone: a closed process does not wait for it.
  closers.push(() => redis.disconnect());
  await waitUntilAnswering(`Redis at ${describeRedis(config.redis)}`, () => redis.ping(), logger, signal);
  await refuseEvictingRedis(redis, config);

  const { mailer, outbox } = await prepareMailer(config, logger);
  // The outbox transport closes its pool's connections first, then the capture server that serves them.
  closers.push(() => mailer.close());
  const fallback = config.smtpFallback
    ? smtpTransport('fallback', config.smtpFallback, senderOf(config))
    : undefined;
  if (fallback) closers.push(() => fallback.close());

  const database = await openDatabase(config, {
    onIdleError: (error) => logger.warn({ err: error.message }, 'idle database connection lost'),
  });
  if (database) closers.push(() => database.close());
  if (database?.embedded)
    logger.info({ dir: database.embedded.dir }, 'no DATABASE_URL: using the embedded PostgreSQL');
  // With the ledger on, every email needs the database: none is taken before it answers and its migrations are
  // verified. With it off, only user_id lookups do, and they wait for it job by job.
  if (database && config.ledger.enabled) {
    await waitUntilAnswering(
      `PostgreSQL at ${redactUrl(config.database.url ?? database.embedded?.url ?? '')}`,
      async () => {
        try {
          await database.pool.query('SELECT 1');
        } catch (error) {
          // Only an unreachable database is waited for; anything else is a real problem, reported now.
          if (!isConnectionFailure(error)) throw Object.assign(error as Error, { fatal: true });
          throw error;
        }
      },
      logger,
      signal,
    );
  }
  const ledger = await prepareLedger(database, config, logger);
  const findRecipient = await prepareRecipients(database, config, logger);
  return { templates, redis, mailer, fallback, outbox, database, ledger, findRecipient };
}

/**
 * Tries `probe` until it answers, logging "waiting for …" every 5 s. Gives up only when `signal` aborts (the
 * process was asked to stop) or the probe fails with an error marked `fatal`.
 */
async function waitUntilAnswering(
  what: string,
  probe: () => Promise<unknown>,
  logger: Logger,
  signal: AbortSignal | undefined,
): Promise<void> {
  let lastLog = 0;
  for (;;) {
    signal?.throwIfAborted();
    const attempt = probe();
    attempt.catch(() => undefined);
    const answered = await Promise.race([
      attempt.then(
        () => true,
        (error: Error & { fatal?: boolean }) => {
          if (error.fatal) throw new StartupError(`${what}: ${error.message}`, { cause: error });
          return false;
        },
      ),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), WAIT_LOG_INTERVAL_MS).unref()),
      ...(signal
        ? [new Promise<false>((resolve) => signal.addEventListener('abort', () => resolve(false)))]
        : []),
    ]);
    if (answered) return;
    signal?.throwIfAborted();
    if (Date.now() - lastLog >= WAIT_LOG_INTERVAL_MS - 100) {
      logger.warn(`waiting for ${what}`);
      lastLog = Date.now();
    }
    // A probe that failed at once (connection refused) must not spin: pace the retries.
    await new Promise((resolve) => setTimeout(resolve, 250).unref());
  }
}

async function prepareTemplates(config: Config): Promise<Templates> {
  const templates = loadTemplates({
    dir: config.templatesDir,
    brand: config.brand,
    defaults: config.defaults,
  });
  for (const task of Object.values(tasks)) {
    try {
      await renderSample(task, templates.render, config.defaults);
    } catch (error) {
      throw new TemplateError(
        `templates/${task.name}/ does not render the task's sample: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  return templates;
}

async function refuseEvictingRedis(redis: RedisConnection, config: Config): Promise<void> {
  if (config.env !== 'production') return;
  // BullMQ only warns; an evicting Redis silently loses jobs. In a Cluster each master decides for its slots.
  const nodes = dataNodes(redis);
  for (const node of nodes) {
    const info = await node.info('memory');
    const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
    if (policy && policy !== 'noeviction') {
      const where = nodes.length > 1 ? ` on ${node.options.host}:${node.options.port}` : '';
      throw new StartupError(
        `Redis maxmemory-policy is ${policy}${where}: set it to noeviction, or jobs can be evicted`,
      );
    }
  }
}

async function prepareMailer(
  config: Config,
  logger: Logger,
): Promise<{ mailer: Transport; outbox?: Outbox }> {
  const host = config.smtp.host;
  let mailer: Transport;
  let outbox: Outbox | undefined;
  if (host) {
    mailer = smtpTransport('primary', { ...config.smtp, host }, senderOf(config));
  } else {
    // Loaded only here: a worker with a real SMTP server never carries the capture server's code.
    const { outboxTransport } = await import('../mail/transports/outbox.js');
    const transport = await outboxTransport(config.smtp, senderOf(config));
    ({ outbox } = transport);
    mailer = transport;
    logger.info({ outbox: outbox.dir, port: outbox.port }, 'no SMTP_HOST: capturing mail as .eml files');
  }
  const where = outbox ? { host: outbox.host, port: outbox.port } : { host, port: config.smtp.port };
  try {
    await mailer.verify();
    logger.info(where, 'SMTP connection verified');
  } catch (error) {
    // Not fatal: the SMTP breaker holds jobs back until the server answers, as after a failure later on.
    logger.error({ ...where, err: (error as Error).message }, 'SMTP verification failed');
  }
  return { mailer, outbox };
}

function senderOf(config: Config): Sender {
  return { address: config.mail.fromAddress, name: config.mail.fromName, replyTo: config.mail.replyTo };
}

async function prepareLedger(
  database: Database | undefined,
  config: Config,
  logger: Logger,
): Promise<Ledger | undefined> {
  if (!config.ledger.enabled) {
    logger.warn('delivery ledger off (LEDGER_ENABLED=false): a job that runs twice sends its email twice');
    return undefined;
  }
  if (!database) {
    logger.warn('no database: delivery ledger off, a job that runs twice sends its email twice');
    return undefined;
  }
  const { schema } = config.ledger;
  const pending = await pendingMigrations(database.pool, schema);
  if (pending.length) {
    if (!config.ledger.migrateOnStart && !database.embedded) {
      throw new StartupError(
        `the database lacks migrations ${pending.join(', ')} in schema ${schema}: run \`start-workers migrate\` ` +
          '(or set MIGRATE_ON_START=true)',
      );
    }
    const applied = await migrate(database.pool, schema);
    logger.info({ schema, applied }, 'migrations applied');
  }
  const ledger = createLedger(database.pool, schema);
  await ledger.probe();
  return ledger;
}

async function prepareRecipients(
  database: Database | undefined,
  config: Config,
  logger: Logger,
): Promise<Services['findRecipient']> {
  if (!database) {
    logger.warn('no database configured: tasks addressed by user_id will fail until DATABASE_URL is set');
    return () => Promise.reject(new DatabaseNotConfiguredError());
  }
  const users = createUserDirectory(database.pool, config.database.users);
  try {
    await users.check();
    logger.info({ table: config.database.users.table }, 'users table readable');
  } catch (error) {
    const code = (error as { code?: string }).code;
    // The embedded database has no users until `seed-users` adds them, which may happen while we run.
    if (code?.startsWith('42') && database.embedded) {
      logger.warn('the embedded database has no users table yet: run `start-workers seed-users`');
    } else if (code?.startsWith('42')) {
      // The table or a column does not exist; no job could succeed, so say so now.
      throw new StartupError(
        `users lookup does not work (check USERS_TABLE and USERS_*_COLUMN): ${(error as Error).message}`,
      );
    } else if (isConnectionFailure(error)) {
      logger.error(
        { err: (error as Error).message },
        'database unavailable at start; user_id tasks will wait for it',
      );
    } else {
      throw error;
    }
  }
  return (userId) => users.findRecipient(userId);
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
