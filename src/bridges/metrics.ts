/**
 * The bridges' counters, in prom-client's default registry (served by the metrics endpoint where the process has
 * one), and the same counts kept per queue for the bridge's heartbeat record. `queue` is the source: the Celery
 * queue, the stream or the channel.
 */
import { Counter } from 'prom-client';

export interface BridgeCounts {
  bridged: number;
  rejected: number;
  acknowledged: number;
}

const labelNames = ['bridge', 'queue'] as const;

// Module-level: prom-client refuses a second metric of one name in a registry, and one process may run two
// bridges (`--celery-bridge` beside a stream bridge in tests).
const bridged = new Counter({
  name: 'email_bridge_messages_bridged_total',
  help: 'Messages a bridge turned into jobs',
  labelNames,
});
const rejected = new Counter({
  name: 'email_bridge_messages_rejected_total',
  help: 'Messages a bridge refused and dead-lettered (reason: the error code)',
  labelNames: [...labelNames, 'reason'],
});
const acknowledged = new Counter({
  name: 'email_bridge_messages_acknowledged_total',
  help: 'Messages a bridge acknowledged to their source after the job or dead letter existed',
  labelNames,
});

export interface BridgeMetrics {
  bridged(queue: string, count?: number): void;
  rejected(queue: string, reason: string): void;
  acknowledged(queue: string, count?: number): void;
  /** Per queue, since this bridge started. */
  counts(): Record<string, BridgeCounts>;
}

export function bridgeMetrics(bridge: string): BridgeMetrics {
  const perQueue = new Map<string, BridgeCounts>();
  const countsOf = (queue: string) => {
    let counts = perQueue.get(queue);
    if (!counts) perQueue.set(queue, (counts = { bridged: 0, rejected: 0, acknowledged: 0 }));
    return counts;
  };
  return {
    bridged(queue, count = 1) {
      bridged.inc({ bridge, queue }, count);
      countsOf(queue).bridged += count;
    },
    rejected(queue, reason) {
      rejected.inc({ bridge, queue, reason: reason.toLowerCase() });
      countsOf(queue).rejected++;
    },
    acknowledged(queue, count = 1) {
      acknowledged.inc({ bridge, queue }, count);
      countsOf(queue).acknowledged += count;
    },
    counts: () => Object.fromEntries(perQueue),
  };
}
