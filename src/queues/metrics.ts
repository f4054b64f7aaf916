/**
 * The Prometheus metrics of a worker process (prom-client), in a registry of its own so that several sets of
 * workers in one process (tests, embedding) do not share counters. Fed from the one place a job's outcome is
 * logged (process-job.ts) and from the timed SMTP send; read by `/metrics`, the stats log line and the heartbeat.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queue } from 'bullmq';
import type { BreakerState } from './breakers.js';

/** What the processor logs as a job's `outcome`. */
export type JobOutcome =
  | 'sent'
  | 'completed'
  | 'skipped'
  | 'retry'
  | 'failed'
  | 'expired'
  | 'rate_limited'
  | 'suppressed'
  | 'bounced';

/** Outcomes that leave the job failed for good. */
const FINAL_FAILURES = new Set(['failed', 'expired', 'rate_limited', 'suppressed', 'bounced']);

/** Totals since start: the stats log line and the heartbeat. */
export interface JobTotals {
  total: number;
  sent: number;
  skipped: number;
  failed: number;
  retried: number;
  dead_lettered: number;
}

export interface WorkerMetrics {
  readonly registry: Registry;
  /** One finished attempt; `task` is the contract's name (or `unknown`), never the producer's raw job name. */
  jobOutcome(task: string, outcome: string, durationMs: number): void;
  /** Times each call of `send` into the SMTP histogram. */
  timeSend<A extends unknown[], R>(send: (...args: A) => Promise<R>): (...args: A) => Promise<R>;
  /** One email accepted by a relay (`primary`, `fallback`, `outbox`). */
  relaySent(relay: string): void;
  /** 0 closed, 1 half-open, 2 open: what issue 8's circuit breakers report. */
  setBreakerState(dependency: string, state: BreakerState): void;
  totals(): Readonly<JobTotals>;
}

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

// Email jobs take from milliseconds (a duplicate) to a minute (a slow SMTP server at its timeout).
const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const perTask = (name: string, help: string) =>
    new Counter({ name, help, labelNames: ['task'] as const, registers: [registry] });
  const counters: Partial<Record<JobOutcome, Counter<'task'>>> = {
    sent: perTask('email_jobs_completed_total', 'Jobs completed (email sent, or health check run), per task'),
    skipped: perTask(
      'email_jobs_skipped_total',
      'Jobs completed without sending: the ledger says already sent',
    ),
    retry: perTask('email_jobs_retried_total', 'Attempts that failed and were scheduled again'),
    failed: perTask('email_jobs_failed_total', 'Jobs failed for good (permanent error or retries used up)'),
    expired: perTask('email_jobs_expired_total', 'Jobs failed for good because they were too late to send'),
    rate_limited: perTask(
      'email_jobs_rate_limited_total',
      'Emails not sent: the address had its share of the task (RECIPIENT_LIMITS)',
    ),
    suppressed: perTask(
      'email_jobs_suppressed_total',
      'Emails not sent: the address is on the suppression list',
    ),
    bounced: perTask(
      'email_jobs_bounced_total',
      'Emails whose address the SMTP server refused (now suppressed)',
    ),
  };
  counters.completed = counters.sent;
  const deadLetters = perTask(
    'email_dead_letters_total',
    'Jobs left in the failed set (failed, expired, rate limited, suppressed or bounced)',
  );
  const jobDuration = new Histogram({
    name: 'email_job_duration_seconds',
    help: 'Duration of one attempt, by task and outcome',
    labelNames: ['task', 'outcome'] as const,
    buckets: DURATION_BUCKETS_S,
    registers: [registry],
  });
  const sendDuration = new Histogram({
    name: 'email_smtp_send_duration_seconds',
    help: 'Duration of one SMTP send, by result (accepted, or the error code)',
    labelNames: ['result'] as const,
    buckets: DURATION_BUCKETS_S,
    registers: [registry],
  });
  const relaySends = new Counter({
    name: 'email_relay_sent_total',
    help: 'Emails accepted, per relay: primary, fallback (while the primary is out) or outbox',
    labelNames: ['relay'] as const,
    registers: [registry],
  });
  const breakers = new Gauge({
    name: 'email_breaker_state',
    help: 'Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open',
    labelNames: ['dependency'] as const,
    registers: [registry],
    // Under a supervisor: the worst of its processes.
    aggregator: 'max',
  });
  const totals: JobTotals = { total: 0, sent: 0, skipped: 0, failed: 0, retried: 0, dead_lettered: 0 };

  return {
    registry,
    jobOutcome(task, outcome, durationMs) {
      counters[outcome as JobOutcome]?.inc({ task });
      jobDuration.observe({ task, outcome }, durationMs / 1000);
      // A run the process gave back (shutdown, lost lock) is not the job's: it runs again elsewhere.
      if (outcome === 'returned') return;
      totals.total++;
      if (outcome === 'sent' || outcome === 'completed') totals.sent++;
      else if (outcome === 'skipped') totals.skipped++;
      else if (outcome === 'retry') totals.retried++;
      if (FINAL_FAILURES.has(outcome)) {
        totals.failed++;
        totals.dead_lettered++;
        deadLetters.inc({ task });
      }
    },
    timeSend(send) {
      return async (...args) => {
        const end = sendDuration.startTimer();
        try {
          const result = await send(...args);
          end({ result: 'accepted' });
          return result;
        } catch (error) {
          end({ result: String((error as { code?: string }).code ?? 'error') });
          throw error;
        }
      };
    },
    relaySent(relay) {
      relaySends.inc({ relay });
    },
    setBreakerState(dependency, state) {
      breakers.set({ dependency }, BREAKER_VALUE[state]);
    },
    totals: () => ({ ...totals }),
  };
}

/**
 * `email_queue_jobs{queue,state}`, read from Redis at each scrape: served by every worker process and by the
 * monitor. A scrape while Redis is down leaves the gauge empty rather than failing `/metrics`.
 */
export function registerQueueGauges(registry: Registry, queues: () => readonly Queue[]): void {
  new Gauge({
    name: 'email_queue_jobs',
    help: 'Jobs per queue and state (waiting includes prioritized jobs)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    // Every worker process reads the same queues: under a supervisor, one reading, not their sum.
    aggregator: 'max',
    async collect() {
      this.reset();
      await Promise.all(
        queues().map(async (queue) => {
          const counts = await queue
            .getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed')
            .catch(() => undefined);
          if (!counts) return;
          const waiting = (counts.wait ?? 0) + (counts.prioritized ?? 0);
          this.set({ queue: queue.name, state: 'waiting' }, waiting);
          for (const state of ['active', 'delayed', 'failed'] as const) {
            this.set({ queue: queue.name, state }, counts[state] ?? 0);
          }
        }),
      );
    },
  });
}
