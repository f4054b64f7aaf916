import { describe, expect, it } from 'vitest';
import { secretMatcher } from '../../src/monitor/auth.js';
import { createFailedLogins } from '../../src/monitor/failed-logins.js';

describe('secretMatcher', () => {
  it('accepts the secret only, whatever the length of a guess', () => {
    const matches = secretMatcher('correct horse');
    expect(matches('correct horse')).toBe(true);
    expect(matches('correct hors')).toBe(false);
    expect(matches('correct horse battery')).toBe(false);
    expect(matches('')).toBe(false);
  });
});

describe('failed logins', () => {
  it('hold an address back after maxFailures within the window, and only that address', () => {
    const failures = createFailedLogins({ maxFailures: 3, windowMs: 60_000 });
    failures.record('10.0.0.1');
    failures.record('10.0.0.1');
    expect(failures.retryAfterS('10.0.0.1')).toBe(0);
    failures.record('10.0.0.1');
    expect(failures.retryAfterS('10.0.0.1')).toBeGreaterThan(55);
    expect(failures.retryAfterS('10.0.0.1')).toBeLessThanOrEqual(60);
    expect(failures.retryAfterS('10.0.0.2')).toBe(0);
  });

  it('let an address in again once its failures are older than the window', async () => {
    const failures = createFailedLogins({ maxFailures: 1, windowMs: 50 });
    failures.record('10.0.0.3');
    expect(failures.retryAfterS('10.0.0.3')).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(failures.retryAfterS('10.0.0.3')).toBe(0);
  });
});
