import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { StateDict } from '../state/tree.js';
import type { Trackable } from '../state/trackable.js';
import { type Mode, metricDirection } from '../state/mode.js';
import { Callback } from '../model/callback.js';
import type { Logs } from '../model/history.js';

export interface EarlyStoppingOptions {
  monitor?: string;
  /** Epochs without improvement before stopping. */
  patience?: number;
  /** Smallest change that counts as an improvement. */
  minDelta?: number;
  mode?: Mode;
  /** Keep waiting until the monitored value beats this too. */
  baseline?: number;
  /** At the end of training, put back the weights of the best epoch (however training ended). */
  restoreBestWeights?: boolean;
  /** Ignore epochs before this one (warm-up). */
  startFromEpoch?: number;
  /** 1: say when it stopped training and when it restored the best weights. */
  verbose?: 0 | 1;
  warn?: (message: string) => void;
  write?: (line: string) => void;
}

/** Stops training when a monitored value stops improving, as Keras's EarlyStopping. */
export class EarlyStopping extends Callback implements Trackable {
  readonly monitor: string;
  readonly patience: number;
  readonly minDelta: number;
  readonly baseline?: number;
  readonly restoreBestWeights: boolean;
  readonly startFromEpoch: number;
  private readonly direction: 'min' | 'max';
  private readonly warn: (message: string) => void;
  private readonly write: (line: string) => void;
  private readonly verbose: 0 | 1;
  wait = 0;
  best: number;
  bestEpoch = 0;
  /** The epoch at which it stopped training, or 0 (as Keras). */
  stoppedEpoch = 0;
  private bestWeights: Float32Array[] | null = null;

  constructor(options: EarlyStoppingOptions = {}) {
    super();
    this.monitor = options.monitor ?? 'val_loss';
    const mode = options.mode ?? 'auto';
    if (!['min', 'max', 'auto'].includes(mode))
      throw new ArgumentError(`EarlyStopping: mode must be 'min', 'max' or 'auto', got '${String(mode)}'`);
    const direction = mode === 'auto' ? metricDirection(this.monitor) : mode;
    if (direction === null) {
      throw new ArgumentError(
        `EarlyStopping: cannot tell whether '${this.monitor}' should be minimized or maximized; ` +
          "pass mode: 'max' to stop on the highest value, or mode: 'min' to stop on the lowest",
      );
    }
    this.direction = direction;
    this.patience = options.patience ?? 0;
    if (!(Number.isInteger(this.patience) && this.patience >= 0))
      throw new ArgumentError(`EarlyStopping: patience must be a non-negative integer of epochs, got ${this.patience}`);
    this.minDelta = Math.abs(options.minDelta ?? 0);
    if (!Number.isFinite(this.minDelta))
      throw new ArgumentError(`EarlyStopping: minDelta must be a finite number, got ${options.minDelta}`);
    this.baseline = options.baseline;
    if (this.baseline !== undefined && Number.isNaN(this.baseline))
      throw new ArgumentError('EarlyStopping: baseline must be a number, got NaN');
    this.restoreBestWeights = options.restoreBestWeights ?? false;
    this.startFromEpoch = options.startFromEpoch ?? 0;
    if (!(Number.isInteger(this.startFromEpoch) && this.startFromEpoch >= 0)) {
      throw new ArgumentError(
        `EarlyStopping: startFromEpoch must be a non-negative integer, got ${this.startFromEpoch}`,
      );
    }
    this.warn = options.warn ?? ((m) => console.warn(`waypoint: ${m}`));
    this.write = options.write ?? ((l) => console.log(l));
    this.verbose = options.verbose ?? 0;
    this.best = this.direction === 'min' ? Infinity : -Infinity;
  }

  private improves(value: number, reference: number): boolean {
    return this.direction === 'min' ? value + this.minDelta < reference : value - this.minDelta > reference;
  }

  /**
   * Starts fresh, as Keras does, so a stopper can be reused for another fit; a resumed fit
   * then gets the saved state from BackupAndRestore, which applies it after every
   * onTrainBegin (FitContext.afterTrainBegin).
   */
  override async onTrainBegin(): Promise<void> {
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.best = this.direction === 'min' ? Infinity : -Infinity;
    this.bestWeights = null;
    this.bestEpoch = 0;
    const keys = this.params?.metrics;
    if (keys && !keys.includes(this.monitor))
      this.warn(
        `EarlyStopping monitors '${this.monitor}', which this fit does not log (available: ${keys.join(', ')})`,
      );
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    const current = logs?.[this.monitor];
    if (current === undefined || epoch < this.startFromEpoch) return;
    if (this.restoreBestWeights && this.bestWeights === null) {
      this.bestWeights = this.snapshot(); // never set: the current weights are the best so far
      this.bestEpoch = epoch;
    }
    this.wait++;
    if (this.improves(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.bestWeights = this.snapshot();
      if (this.baseline === undefined || this.improves(current, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
    }
  }

  /** As Keras: the best weights come back at the end of training, whoever stopped it. */
  override async onTrainEnd(): Promise<void> {
    if (this.stoppedEpoch > 0 && this.verbose > 0) this.write(`Epoch ${this.stoppedEpoch + 1}: early stopping`);
    if (this.restoreBestWeights && this.bestWeights !== null) {
      if (this.verbose > 0)
        this.write(`Restoring model weights from the end of the best epoch: ${this.bestEpoch + 1}.`);
      this.model.namedParams().forEach(([, p], i) => p.data.set(this.bestWeights![i]));
    }
  }

  private snapshot(): Float32Array[] {
    return this.model.namedParams().map(([, p]) => p.data.slice());
  }

  stateDict(): StateDict {
    const state: StateDict = {
      wait: this.wait,
      best: this.best,
      bestEpoch: this.bestEpoch,
      stoppedEpoch: this.stoppedEpoch,
    };
    if (this.restoreBestWeights) {
      // Always present when enabled (the current weights stand in before a best exists), so the
      // saved keys do not depend on how far training got.
      const weights = this.bestWeights ?? this.snapshot();
      state.bestWeights = Object.fromEntries(
        this.model.namedParams().map(([path, p], i) => [path.replace(/\//g, '.'), new Tensor(weights[i], p.shape)]),
      );
    }
    return state;
  }

  loadStateDict(state: StateDict): void {
    this.wait = state.wait as number;
    this.best = state.best as number;
    this.bestEpoch = state.bestEpoch as number;
    this.stoppedEpoch = state.stoppedEpoch as number;
    if (this.restoreBestWeights && state.bestWeights) {
      const saved = state.bestWeights as Record<string, Tensor>;
      this.bestWeights = this.model.namedParams().map(([path]) => saved[path.replace(/\//g, '.')].data.slice());
    }
  }
}
