/**
 * `/health/ready`: ready only when every component probe says so. Probes are a list, so a component is one more
 * entry: the health report's four (Redis, SMTP, the database, the templates) and, for issue 8's circuit
 * breakers, `breakerProbe('smtp', () => breaker.state)` — an open breaker makes the process not ready.
 */
import type { ComponentStatus } from '../tasks/define-task.js';
import { componentChecks, type HealthTargets } from './health.js';
import type { BreakerState } from './breakers.js';

export interface ComponentProbe {
  /** The component's name in the readiness report (`redis`, `smtp`, `breaker:smtp`, …). */
  name: string;
  check(): Promise<ComponentStatus> | ComponentStatus;
}

export interface Readiness {
  ready: boolean;
  components: Record<string, ComponentStatus>;
}

export function healthProbes(targets: Omit<HealthTargets, 'breakers'>): ComponentProbe[] {
  return Object.entries(componentChecks(targets)).map(([name, check]) => ({ name, check }));
}

/** A circuit breaker as a component: ready only when closed (half-open is still probing, its workers paused). */
export function breakerProbe(dependency: string, state: () => BreakerState): ComponentProbe {
  return {
    name: `breaker:${dependency}`,
    check: () => {
      const current = state();
      return current === 'closed'
        ? { ok: true }
        : { ok: false, error: `circuit breaker ${current.replace('_', '-')}` };
    },
  };
}

export async function checkReadiness(probes: readonly ComponentProbe[]): Promise<Readiness> {
  const results = await Promise.all(
    probes.map(async (probe): Promise<[string, ComponentStatus]> => {
      try {
        return [probe.name, await probe.check()];
      } catch (error) {
        return [probe.name, { ok: false, error: (error as Error).message }];
      }
    }),
  );
  return { ready: results.every(([, status]) => status.ok), components: Object.fromEntries(results) };
}
