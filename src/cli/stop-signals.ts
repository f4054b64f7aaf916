/**
 * SIGTERM and SIGINT, caught from the first moment of the workers' command — before its modules have loaded,
 * which takes seconds on a loaded machine — so a stop asked for during start-up is honoured (exit 0 once what was
 * opened is closed) instead of Node's default exit by signal. A second signal exits at once.
 */
export interface StopSignals {
  /** Aborted, with the signal as its reason, at the first SIGTERM or SIGINT. */
  readonly signal: AbortSignal;
  /** What a second signal does (by default: exit at once, status 128 + signal). */
  onRepeat(handler: (signal: NodeJS.Signals) => void): void;
  /**
   * A stop asked for otherwise than by a signal (the supervisor's message, its end): counts as the first signal,
   * and is ignored when a stop is already under way, since a terminal's Ctrl-C reaches the supervisor and its
   * worker processes alike.
   */
  requestStop(signal: NodeJS.Signals): void;
}

let installed: StopSignals | undefined;

export function catchStopSignals(): StopSignals {
  if (installed) return installed;
  const controller = new AbortController();
  let repeat = (signal: NodeJS.Signals): void => process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  const handle = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) repeat(signal);
    else controller.abort(signal);
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
  installed = {
    signal: controller.signal,
    onRepeat(handler) {
      repeat = handler;
    },
    requestStop(signal) {
      if (!controller.signal.aborted) controller.abort(signal);
    },
  };
  return installed;
}
