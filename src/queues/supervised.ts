/**
 * A worker process run by `start-workers --processes N` (src/cli/supervisor.ts) answers its supervisor over the
 * IPC channel instead of serving HEALTH_PORT itself: the supervisor serves one `/health/ready` and one `/metrics`
 * for all of its processes, and asks each for its readiness and its metrics (prom-client's JSON form, which
 * `AggregatorRegistry.aggregate` sums). The messages are in supervisor-messages.ts.
 */
import type { Registry } from 'prom-client';
import { checkReadiness, type ComponentProbe } from './readiness.js';
import { isSupervisorRequest, type SupervisorReply } from './supervisor-messages.js';

/** Answers the supervisor's requests until the returned function is called. */
export function answerSupervisor(registry: Registry, probes: readonly ComponentProbe[]): () => void {
  const onMessage = (message: unknown) => {
    if (!isSupervisorRequest(message) || !process.send) return;
    const answer =
      message.type === 'email-workers:ready'
        ? checkReadiness(probes).then((readiness) => ({ readiness }))
        : registry.getMetricsAsJSON().then((metrics) => ({ metrics }));
    void answer
      .then((body): SupervisorReply => ({ type: 'email-workers:reply', id: message.id, ...body }))
      .then((reply) => process.connected && process.send?.(reply))
      .catch(() => undefined); // the supervisor counts a missing answer as not ready
  };
  process.on('message', onMessage);
  return () => process.off('message', onMessage);
}
