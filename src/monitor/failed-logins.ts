/**
 * Slows down guessing: after `maxFailures` failed logins (board or API) from one address within `windowMs`, that
 * address gets 429 with Retry-After until the window has passed, whatever it sends. In memory: the monitor is one
 * process.
 */
export interface FailedLogins {
  /** Seconds the address must wait, or 0. */
  retryAfterS(address: string): number;
  record(address: string): void;
}

export function createFailedLogins({ maxFailures = 10, windowMs = 60_000 } = {}): FailedLogins {
  const failures = new Map<string, number[]>();
  const recent = (address: string, now: number) => {
    const times = (failures.get(address) ?? []).filter((time) => now - time < windowMs);
    if (times.length) failures.set(address, times);
    else failures.delete(address);
    return times;
  };
  return {
    retryAfterS(address) {
      const now = Date.now();
      const times = recent(address, now);
      if (times.length < maxFailures) return 0;
      return Math.max(1, Math.ceil((times[times.length - maxFailures]! + windowMs - now) / 1000));
    },
    record(address) {
      const now = Date.now();
      const times = recent(address, now);
      times.push(now);
      failures.set(address, times.slice(-maxFailures));
      // Bounded: a flood of addresses must not grow the map without end.
      if (failures.size > 10_000) failures.delete(failures.keys().next().value!);
    },
  };
}
