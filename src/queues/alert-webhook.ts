/**
 * POSTs one alert as JSON to ALERT_WEBHOOK_URL (a Slack incoming webhook, or anything that takes `{ text }`),
 * retried with exponential backoff when the receiver fails or does not answer. Never throws: an alert that cannot
 * be delivered is logged, and its dead letters stay in the queue for `dlq list`.
 */
import type { Logger } from '../logger.js';

const ATTEMPTS = 6;
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;
const TIMEOUT_MS = 10_000;

export async function postAlert(
  url: string,
  body: { text: string; dead_letters: number },
  signal: AbortSignal,
  logger: Logger,
  delays: { firstMs: number; maxMs: number } = { firstMs: FIRST_DELAY_MS, maxMs: MAX_DELAY_MS },
): Promise<boolean> {
  let lastError = '';
  for (let attempt = 1; attempt <= ATTEMPTS && !signal.aborted; attempt++) {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]),
      });
      await response.body?.cancel();
      if (response.ok) return true;
      lastError = `HTTP ${response.status}`;
      // A 4xx other than throttling will not get better by retrying (a revoked Slack webhook answers 404).
      if (response.status < 500 && response.status !== 429) break;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (attempt < ATTEMPTS) {
      const delayMs = Math.min(delays.maxMs, delays.firstMs * 2 ** (attempt - 1));
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        timer.unref();
        signal.addEventListener('abort', () => resolve(undefined), { once: true });
      });
    }
  }
  // The URL is a credential (Slack's carries its secret in the path): it is not logged.
  logger.error(
    { deadLetters: body.dead_letters, err: lastError || 'stopped' },
    'dead-letter alert not delivered; the letters are in the dead_letter queue',
  );
  return false;
}
