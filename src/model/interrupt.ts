/**
 * Stopping a fit promptly and gracefully. `model.interrupt()` asks the running fit to stop
 * at the end of the batch in flight; the fit then gives every callback `onTrainAbort` with a
 * `TrainingInterruptedError` (BackupAndRestore writes a backup at that exact batch) and
 * rejects with it. `interruptOnSignals` connects that to SIGINT and SIGTERM: the library
 * installs no signal handler of its own.
 */
import { WaypointError } from '../errors.js';
import { platform } from '../platform.js';

/** A fit stopped by `model.interrupt()` (a signal, a page being hidden) before it finished. */
export class TrainingInterruptedError extends WaypointError {
  constructor(
    readonly reason: string,
    readonly epoch: number,
    readonly batch: number,
  ) {
    super(`training interrupted (${reason}) at epoch ${epoch + 1}, batch ${batch}`);
  }
}

/** The interrupt state of one model: whether a fit runs, whether it was asked to stop, who waits for it. */
export class InterruptSwitch {
  private running = false;
  private reason: string | null = null;
  private waiters: Array<() => void> = [];

  /** The reason given to `request` while the current fit runs, or null. */
  get requested(): string | null {
    return this.reason;
  }

  /** Asks the running fit to stop; resolves true once it has stopped, or false at once when none runs. */
  request(reason: string): Promise<boolean> {
    if (!this.running) return Promise.resolve(false);
    this.reason ??= reason;
    return new Promise((resolve) => this.waiters.push(() => resolve(true)));
  }

  begin(): void {
    this.running = true;
    this.reason = null;
  }

  /** The fit has stopped (finished, failed or interrupted): everyone waiting is told. */
  end(): void {
    this.running = false;
    this.reason = null;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

type Signal = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'SIGUSR1' | 'SIGUSR2';
const SIGNAL_NUMBERS: Record<Signal, number> = { SIGHUP: 1, SIGINT: 2, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 };

export interface InterruptOnSignalsOptions {
  /** Default SIGINT (Ctrl-C) and SIGTERM (kill, docker stop, Kubernetes, spot preemption). */
  signals?: Signal[];
  /**
   * Exit once the interrupted fit has stopped, with 128 + the signal's number (130 for
   * SIGINT, 143 for SIGTERM), as a shell reports a process killed by it. Default true; with
   * false the fit's rejection (TrainingInterruptedError) is the caller's to handle.
   */
  exit?: boolean;
  /** Told when the first signal arrives (default: a line on stderr). */
  log?: (message: string) => void;
}

/** Exit status of a process stopped by `signal`, as a shell reports it. */
export const exitCodeFor = (signal: Signal): number => 128 + SIGNAL_NUMBERS[signal];

/**
 * Makes SIGINT/SIGTERM interrupt `model`'s fit gracefully: the first signal finishes the batch
 * in flight and lets callbacks save (BackupAndRestore writes a backup at that batch); a second
 * one exits at once (every file already written stays intact: writes are atomic). A signal
 * that arrives while no fit runs exits at once. Returns a function that removes the handlers.
 */
export function interruptOnSignals(
  model: { interrupt(reason: string): Promise<boolean> },
  options: InterruptOnSignalsOptions = {},
): () => void {
  const proc = platform().signals;
  if (!proc) return () => undefined; // a browser: interrupt from page events instead
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  const log = options.log ?? proc.tell;
  let first: Signal | null = null;
  const handler = (name: string) => {
    const signal = name as Signal;
    if (first !== null) {
      log(`waypoint: ${signal} again: exiting now`);
      proc.exit(exitCodeFor(signal));
    }
    first = signal;
    log(`\nwaypoint: ${signal}: finishing the current batch and saving (send it again to exit at once)`);
    void model.interrupt(signal).then((stopped) => {
      // With no fit running there is nothing to save: the signal means what it always does.
      if (!stopped || (options.exit ?? true)) proc.exit(exitCodeFor(signal));
    });
  };
  for (const s of signals) proc.on(s, handler);
  return () => {
    for (const s of signals) proc.off(s, handler);
  };
}
