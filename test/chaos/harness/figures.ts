/**
 * What one scenario measured, written to `test-results/chaos/<scenario>.json`; `npm run chaos:report` turns the
 * files into the table of docs/RELIABILITY.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR } from './paths.js';

export interface Figures {
  scenario: string;
  title: string;
  /** Set once the test has finished: its assertions passed or not. */
  passed: boolean | null;
  /** Enqueues the producer saw confirmed (by the client, or by `queue.add`). */
  acknowledged: number;
  /** Acknowledged emails the SMTP server accepted at least once. */
  delivered: number;
  /** Acknowledged emails not delivered whose job failed with a stated reason. */
  failed: number;
  /** Acknowledged − delivered − failed. */
  lost: number;
  /** Extra accepted copies (the same Message-ID accepted more than once). */
  duplicates: number;
  /** The scenario's own measure of recovery (what it measures is in `notes`), or null. */
  recoverySeconds: number | null;
  durationSeconds: number;
  failedReasons: Record<string, number>;
  /** A few of the lost and duplicated keys, for the log search. */
  lostKeys: string[];
  duplicateKeys: string[];
  /** Ledger rows by status at the end. */
  ledger: Record<string, number>;
  /** Worker processes and how each ended. */
  processes: Array<{ name: string; exit: string; expected: boolean; startupSeconds: number | null }>;
  /** Settings that differ from production defaults. */
  settings: Record<string, string>;
  /** Scenario-specific measures. */
  extra: Record<string, unknown>;
  notes: string[];
  /** Problems found by the harness's own end-of-scenario checks. */
  problems: string[];
  /** The first failed assertion's message, when the test failed. */
  failure?: string;
  at: string;
}

export function figuresFile(scenario: string): string {
  return join(RESULTS_DIR, `${scenario}.json`);
}

export function writeFigures(figures: Figures): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(figuresFile(figures.scenario), `${JSON.stringify(figures, null, 2)}\n`);
}

/** Records the test's outcome in a file written earlier (the figures are written before the assertions). */
export function markPassed(scenario: string, passed: boolean, failure?: string): Figures | undefined {
  try {
    const figures = {
      ...(JSON.parse(readFileSync(figuresFile(scenario), 'utf8')) as Figures),
      passed,
      ...(failure ? { failure } : {}),
    };
    writeFigures(figures);
    return figures;
  } catch {
    // Nothing written: the scenario failed before it had figures; the report shows it as missing.
    return undefined;
  }
}
