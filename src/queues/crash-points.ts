/**
 * CHAOS_CRASH_POINT, for the chaos suite only (refused in production): the worker process kills itself with
 * SIGKILL when a job whose id contains the configured text reaches the configured step, so a test can crash it
 * at exactly the moment it wants to examine (mid-DATA, right after the 250, right after the ledger's record).
 */
import type { Config, CrashPoint } from '../config.js';

export type CrashAt = (point: CrashPoint, jobId: string) => void;

export function crashHook(setting: Config['chaosCrashPoint']): CrashAt {
  if (!setting) return () => undefined;
  return (point, jobId) => {
    if (point !== setting.point) return;
    if (setting.jobIdPart !== undefined && !jobId.includes(setting.jobIdPart)) return;
    process.kill(process.pid, 'SIGKILL');
  };
}
