import type { Config } from '../config.js';
import type { RetryPolicy } from '../tasks/define-task.js';

export interface ResolvedRetry {
  attempts: number;
  delayMs: number;
  maxDelayMs: number;
  jitter: number;
}

/** A task's own policy over the configured defaults (MAX_RETRIES, RETRY_DELAY, RETRY_DELAY_MAX). */
export function resolveRetry(defaults: Config['retry'], policy: RetryPolicy | undefined): ResolvedRetry {
  return {
    attempts: policy?.attempts ?? defaults.attempts,
    delayMs: policy?.backoff?.delay ?? defaults.delayMs,
    maxDelayMs: policy?.backoff?.maxDelay ?? defaults.delayMaxMs,
    jitter: policy?.backoff?.jitter ?? 0.5,
  };
}

/**
 * Delay before the retry that follows failed attempt `attempt` (1-based): delay·2^(attempt−1), capped, with the
 * jittered part drawn down so that retries after an outage spread out instead of arriving together.
 */
export function retryDelayMs(
  retry: ResolvedRetry,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(retry.maxDelayMs, retry.delayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (1 - retry.jitter * random()));
}
