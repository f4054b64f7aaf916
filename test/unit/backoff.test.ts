import { describe, it, expect } from 'vitest';
import { resolveRetry, retryDelayMs, type ResolvedRetry } from '../../src/queues/backoff.js';

const defaults = { attempts: 4, delayMs: 2_000, delayMaxMs: 600_000 };
const exact: ResolvedRetry = { attempts: 4, delayMs: 2_000, maxDelayMs: 600_000, jitter: 0 };

describe('resolveRetry', () => {
  it('uses the configured defaults for a task without a policy, with half of each delay random', () => {
    expect(resolveRetry(defaults, undefined)).toEqual({
      attempts: 4,
      delayMs: 2_000,
      maxDelayMs: 600_000,
      jitter: 0.5,
    });
  });

  it('takes each field the task sets over the default', () => {
    const policy = {
      attempts: 6,
      backoff: { type: 'exponential' as const, delay: 500, maxDelay: 60_000, jitter: 0 },
    };
    expect(resolveRetry(defaults, policy)).toEqual({
      attempts: 6,
      delayMs: 500,
      maxDelayMs: 60_000,
      jitter: 0,
    });
  });

  it('keeps the defaults for the fields the task leaves out', () => {
    expect(resolveRetry(defaults, { attempts: 1 })).toEqual({
      attempts: 1,
      delayMs: 2_000,
      maxDelayMs: 600_000,
      jitter: 0.5,
    });
  });

  it('keeps the default delays when the task sets only the jitter', () => {
    expect(resolveRetry(defaults, { backoff: { type: 'exponential', jitter: 0.2 } })).toEqual({
      attempts: 4,
      delayMs: 2_000,
      maxDelayMs: 600_000,
      jitter: 0.2,
    });
  });
});

describe('retryDelayMs', () => {
  it('waits the first delay after the first attempt', () => {
    expect(retryDelayMs(exact, 1)).toBe(2_000);
  });

  it('doubles the delay after each further attempt', () => {
    expect([2, 3, 4, 5].map((attempt) => retryDelayMs(exact, attempt))).toEqual([
      4_000, 8_000, 16_000, 32_000,
    ]);
  });

  it('never waits longer than the maximum', () => {
    expect(retryDelayMs({ ...exact, maxDelayMs: 10_000 }, 5)).toBe(10_000);
  });

  it('stays at the maximum however many attempts failed', () => {
    expect(retryDelayMs(exact, 100)).toBe(600_000);
  });

  it('with jitter 0 ignores the random source', () => {
    expect(retryDelayMs(exact, 3, () => 0.99)).toBe(8_000);
  });

  it.each([0, 0.25, 0.5, 0.75, 0.999_999])(
    'with jitter 0.5 and random() = %d stays within 50 % and 100 % of the exponential delay',
    (random) => {
      const delay = retryDelayMs({ ...exact, jitter: 0.5 }, 3, () => random);
      expect(delay).toBeGreaterThanOrEqual(4_000);
      expect(delay).toBeLessThanOrEqual(8_000);
    },
  );

  it('with jitter 0.5 takes the random part off the delay', () => {
    expect(retryDelayMs({ ...exact, jitter: 0.5 }, 3, () => 0.5)).toBe(6_000);
  });

  it('with jitter 0.5 spreads the capped delay as well', () => {
    expect(retryDelayMs({ ...exact, jitter: 0.5, maxDelayMs: 10_000 }, 10, () => 0.999_999)).toBe(5_000);
  });
});
