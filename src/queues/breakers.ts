/**
 * One circuit breaker per dependency (SMTP, database, Redis). After BREAKER_THRESHOLD consecutive failures of a
 * dependency — never of one message — its breaker opens: the workers that need it stop taking jobs, and every
 * BREAKER_PROBE_INTERVAL one probe (a real connection: SMTP login, a ledger query) is let through; the first
 * success, from a probe or from a job still in flight, closes it and the workers resume. An outage therefore costs
 * no email its attempts. Redis has no probe: its breaker follows the connection, which reconnects by itself.
 */
import type { Dependency } from '../errors.js';
import type { Logger } from '../logger.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerStatus {
  state: BreakerState;
  /** Consecutive failures counted while closed. */
  failures: number;
  /** When it last opened (ISO 8601), while not closed. */
  since: string | undefined;
  /** The failure that opened it, while not closed. */
  reason: string | undefined;
}

export interface Breakers {
  failure(dependency: Dependency, error: Error): void;
  success(dependency: Dependency): void;
  isOpen(dependency: Dependency): boolean;
  status(): Record<Dependency, BreakerStatus>;
  /** Stops the probes. */
  stop(): void;
}

export interface BreakerOptions {
  threshold: number;
  probeIntervalMs: number;
  /** A probe per dependency; Redis has none (see above). */
  probes: Partial<Record<Dependency, () => Promise<void>>>;
  logger: Logger;
  /** Called after every change of state. */
  onChange?: (dependency: Dependency, state: BreakerState) => void;
}

interface Breaker extends BreakerStatus {
  timer: NodeJS.Timeout | undefined;
  probing: boolean;
}

const DEPENDENCIES: readonly Dependency[] = ['smtp', 'database', 'redis'];

/** Failures a person must fix (our credentials refused): logged at `fatal`, since no wait will end them. */
const NEEDS_OPERATOR = /\b(535|534|530)\b|EAUTH|authentication|DATABASE_SCHEMA_MISSING|does not exist/i;

export function createBreakers({
  threshold,
  probeIntervalMs,
  probes,
  logger,
  onChange,
}: BreakerOptions): Breakers {
  const breakers = Object.fromEntries(
    DEPENDENCIES.map((d) => [
      d,
      { state: 'closed', failures: 0, since: undefined, reason: undefined, timer: undefined, probing: false },
    ]),
  ) as Record<Dependency, Breaker>;
  let stopped = false;

  const change = (dependency: Dependency, state: BreakerState) => {
    const breaker = breakers[dependency];
    const from = breaker.state;
    if (from === state) return;
    breaker.state = state;
    const fields = { breaker: dependency, state, reason: breaker.reason };
    if (state === 'closed') {
      const outageMs = Date.now() - Date.parse(breaker.since ?? '');
      logger.info({ breaker: dependency, state, outageMs }, `${dependency} breaker closed: resuming`);
    } else if (from !== 'closed') {
      // Probing and failing again, every interval of a long outage: worth a line only when looking closely.
      logger.debug(fields, `${dependency} breaker ${state === 'open' ? 'still open' : 'half open: probing'}`);
    } else if (NEEDS_OPERATOR.test(breaker.reason ?? '')) {
      logger.fatal(
        fields,
        `${dependency} breaker open: it refuses us; a person must act (jobs wait, none fail)`,
      );
    } else {
      logger.error(fields, `${dependency} breaker open: workers stop taking jobs until it answers`);
    }
    onChange?.(dependency, state);
  };

  const close = (dependency: Dependency) => {
    const breaker = breakers[dependency];
    clearInterval(breaker.timer);
    breaker.timer = undefined;
    breaker.failures = 0;
    change(dependency, 'closed');
    breaker.since = undefined;
    breaker.reason = undefined;
  };

  const probe = async (dependency: Dependency) => {
    const breaker = breakers[dependency];
    const check = probes[dependency];
    if (!check || breaker.probing || stopped || breaker.state === 'closed') return;
    breaker.probing = true;
    change(dependency, 'half_open');
    try {
      await check();
      if (!stopped) close(dependency);
    } catch (error) {
      breaker.reason = (error as Error).message;
      // A job in flight may have closed it meanwhile.
      if (!stopped && (breaker.state as BreakerState) !== 'closed') change(dependency, 'open');
    } finally {
      breaker.probing = false;
    }
  };

  return {
    failure(dependency, error) {
      const breaker = breakers[dependency];
      if (breaker.state !== 'closed') return;
      breaker.failures++;
      if (breaker.failures < threshold && dependency !== 'redis') return;
      breaker.since = new Date().toISOString();
      breaker.reason = error.message;
      change(dependency, 'open');
      if (probes[dependency] && !stopped) {
        breaker.timer = setInterval(() => void probe(dependency), probeIntervalMs);
        breaker.timer.unref();
      }
    },
    success(dependency) {
      const breaker = breakers[dependency];
      if (breaker.state === 'closed') breaker.failures = 0;
      else close(dependency);
    },
    isOpen(dependency) {
      return breakers[dependency].state !== 'closed';
    },
    status() {
      return Object.fromEntries(
        DEPENDENCIES.map((d) => {
          const { state, failures, since, reason } = breakers[d];
          return [d, { state, failures, since, reason }];
        }),
      ) as Record<Dependency, BreakerStatus>;
    },
    stop() {
      stopped = true;
      for (const breaker of Object.values(breakers)) clearInterval(breaker.timer);
    },
  };
}
