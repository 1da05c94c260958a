import { ArgumentError } from '../errors.js';
import type { StateDict } from '../state/tree.js';
import type { Trackable } from '../state/trackable.js';
import { Callback } from '../model/callback.js';

export interface LearningRateSchedulerOptions {
  verbose?: 0 | 1;
  write?: (line: string) => void;
}

/**
 * Sets the learning rate at the start of each epoch to `schedule(epoch, currentRate)`, as
 * Keras's LearningRateScheduler; the epoch's logs get `learning_rate`. It remembers the last
 * epoch it set, so a run resumed inside an epoch does not apply that epoch's step twice.
 */
export class LearningRateScheduler extends Callback implements Trackable {
  override readonly logsLearningRate = true;
  /** The last epoch whose rate this set (-1: none yet). */
  lastEpoch = -1;
  private readonly verbose: 0 | 1;
  private readonly write: (line: string) => void;

  constructor(
    readonly schedule: (epoch: number, learningRate: number) => number,
    options: LearningRateSchedulerOptions = {},
  ) {
    super();
    if (typeof schedule !== 'function')
      throw new ArgumentError(
        `LearningRateScheduler: schedule must be a function (epoch, learningRate) => number, got ${typeof schedule}`,
      );
    this.verbose = options.verbose ?? 0;
    this.write = options.write ?? ((l) => console.log(l));
  }

  override async onTrainBegin(): Promise<void> {
    const optimizer = this.model.optimizer;
    if (optimizer?.schedule) {
      throw new ArgumentError(
        `LearningRateScheduler: the optimizer's learning rate already follows a ${optimizer.schedule.className} schedule; give it a plain learningRate`,
      );
    }
    this.lastEpoch = -1;
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    if (epoch === this.lastEpoch) return; // resumed inside this epoch: its rate is already set (and restored)
    const optimizer = this.model.optimizer!;
    const rate = this.schedule(epoch, optimizer.learningRate);
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) {
      throw new ArgumentError(
        `LearningRateScheduler: the schedule must return a non-negative finite number, got ${String(rate)} at epoch ${epoch}`,
      );
    }
    optimizer.learningRate = rate;
    this.lastEpoch = epoch;
    if (this.verbose)
      this.write(`Epoch ${epoch + 1}: LearningRateScheduler setting learning rate to ${optimizer.learningRate}.`);
  }

  stateDict(): StateDict {
    return { lastEpoch: this.lastEpoch };
  }

  loadStateDict(state: StateDict): void {
    this.lastEpoch = state.lastEpoch as number;
  }
}
