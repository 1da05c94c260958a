import { WaypointError } from '../errors.js';
import { Callback } from '../model/callback.js';
import type { Logs } from '../model/history.js';

export interface TerminateOnNaNOptions {
  /** Throw a NonFiniteLossError (the fit rejects with it) instead of stopping; as Keras's raise_error. */
  raiseError?: boolean;
  /** Where the message goes when training is stopped (default console.log). */
  write?: (line: string) => void;
}

/** The loss became NaN or infinite, and TerminateOnNaN was asked to raise. */
export class NonFiniteLossError extends WaypointError {
  constructor(
    readonly batch: number,
    readonly loss: number,
  ) {
    super(`batch ${batch}: invalid loss ${loss}, terminating training`);
  }
}

/** Stops training (or fails it, with raiseError) as soon as the loss becomes NaN or infinite, as Keras's TerminateOnNaN. */
export class TerminateOnNaN extends Callback {
  private readonly raiseError: boolean;
  private readonly write: (line: string) => void;

  constructor(options: TerminateOnNaNOptions = {}) {
    super();
    this.raiseError = options.raiseError ?? false;
    this.write = options.write ?? ((l) => console.log(l));
  }

  override async onBatchEnd(batch: number, logs?: Logs): Promise<void> {
    const loss = logs?.loss;
    if (loss === undefined || Number.isFinite(loss)) return;
    if (this.raiseError) throw new NonFiniteLossError(batch, loss);
    this.write(`Batch ${batch}: invalid loss ${loss}, terminating training`);
    this.model.stopTraining = true;
  }
}
