/**
 * What `health_check` returns: the old service's shape, with one entry per component. Each probe is bounded,
 * so a hung component reports unhealthy instead of hanging the job. The same probes answer `/health/ready`
 * (readiness.ts).
 */
import type { Pool } from '../db/pool.js';
import type { Templates } from '../mail/templates.js';
import type { Mailer } from '../mail/transport.js';
import type { ComponentStatus, HealthReport } from '../tasks/define-task.js';
import type { Breakers } from './breakers.js';
import type { RedisConnection } from './connection.js';

export interface HealthTargets {
  redis: RedisConnection;
  mailer: Mailer;
  pool: Pool | undefined;
  templates: Templates;
  breakers: Breakers;
}

const PROBE_TIMEOUT_MS = 5_000;

/** One bounded check per component of the health report, by the report's component names. */
export function componentChecks({
  redis,
  mailer,
  pool,
  templates,
}: Omit<HealthTargets, 'breakers'>): Record<
  keyof HealthReport['components'],
  () => Promise<ComponentStatus>
> {
  return {
    redis: () =>
      probe(async () => {
        await redis.ping();
      }),
    smtp: () => probe(() => mailer.verify()),
    database: () =>
      pool
        ? probe(async () => {
            await pool.query('SELECT 1');
          })
        : Promise.resolve<ComponentStatus>({ ok: true, detail: 'not configured' }),
    templates: async () => ({ ok: true, detail: `${templates.names.length} compiled` }),
  };
}

export async function checkHealth(targets: HealthTargets): Promise<HealthReport> {
  const checks = componentChecks(targets);
  const [redis, smtp, database, templates] = await Promise.all([
    checks.redis(),
    checks.smtp(),
    checks.database(),
    checks.templates(),
  ]);
  const components = { redis, smtp, database, templates };
  const breakerStates = targets.breakers.status();
  const open = Object.values(breakerStates).some((b) => b.state !== 'closed');
  return {
    status: Object.values(components).every((c) => c.ok) && !open ? 'healthy' : 'unhealthy',
    service: 'email_workers',
    config_loaded: true,
    timestamp: new Date().toISOString(),
    components,
    breakers: breakerStates,
  };
}

async function probe(check: () => Promise<void>): Promise<ComponentStatus> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise(
        (_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), PROBE_TIMEOUT_MS)),
      ),
    ]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
