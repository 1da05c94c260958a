import { Callback } from '../model/callback.js';
import type { Logs } from '../model/history.js';

/** Stops training as soon as the loss becomes NaN or infinite. */
export class TerminateOnNaN extends Callback {
  constructor(private readonly write: (line: string) => void = (l) => console.log(l)) {
    super();
  }

  override async onBatchEnd(batch: number, logs?: Logs): Promise<void> {
    const loss = logs?.loss;
    if (loss !== undefined && !Number.isFinite(loss)) {
      this.write(`Batch ${batch}: invalid loss ${loss}, terminating training`);
      this.model.stopTraining = true;
    }
  }
}
