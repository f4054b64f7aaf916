/**
 * The messages between `start-workers --processes N` (src/cli/supervisor.ts) and its worker processes over their
 * IPC channel (supervised.ts answers them).
 */
import type { Readiness } from './readiness.js';

export interface SupervisorRequest {
  type: 'email-workers:ready' | 'email-workers:metrics';
  id: number;
}

export interface SupervisorReply {
  type: 'email-workers:reply';
  id: number;
  readiness?: Readiness;
  /** prom-client's `getMetricsAsJSON()`, which `AggregatorRegistry.aggregate` sums over the processes. */
  metrics?: unknown[];
}

export function isSupervisorRequest(message: unknown): message is SupervisorRequest {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'email-workers:ready' || type === 'email-workers:metrics';
}

export function isSupervisorReply(message: unknown): message is SupervisorReply {
  return (message as { type?: unknown } | null)?.type === 'email-workers:reply';
}
