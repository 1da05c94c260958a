import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { StateDict } from '../state/tree.js';
import type { Trackable } from '../state/trackable.js';
import { type Mode, resolveMode } from '../state/mode.js';
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
  /** On stopping, put back the weights of the best epoch. */
  restoreBestWeights?: boolean;
  /** Ignore epochs before this one (warm-up). */
  startFromEpoch?: number;
  warn?: (message: string) => void;
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
  wait = 0;
  best: number;
  bestEpoch = -1;
  stoppedEpoch = -1;
  private bestWeights: Float32Array[] | null = null;

  constructor(options: EarlyStoppingOptions = {}) {
    super();
    this.monitor = options.monitor ?? 'val_loss';
    const mode = options.mode ?? 'auto';
    if (!['min', 'max', 'auto'].includes(mode)) throw new ArgumentError(`EarlyStopping: mode must be 'min', 'max' or 'auto', got '${String(mode)}'`);
    this.direction = resolveMode(mode, this.monitor);
    this.patience = options.patience ?? 0;
    if (!(Number.isInteger(this.patience) && this.patience >= 0)) throw new ArgumentError(`EarlyStopping: patience must be a non-negative integer of epochs, got ${this.patience}`);
    this.minDelta = Math.abs(options.minDelta ?? 0);
    if (!Number.isFinite(this.minDelta)) throw new ArgumentError(`EarlyStopping: minDelta must be a finite number, got ${options.minDelta}`);
    this.baseline = options.baseline;
    if (this.baseline !== undefined && Number.isNaN(this.baseline)) throw new ArgumentError('EarlyStopping: baseline must be a number, got NaN');
    this.restoreBestWeights = options.restoreBestWeights ?? false;
    this.startFromEpoch = options.startFromEpoch ?? 0;
    if (!(Number.isInteger(this.startFromEpoch) && this.startFromEpoch >= 0)) {
      throw new ArgumentError(`EarlyStopping: startFromEpoch must be a non-negative integer, got ${this.startFromEpoch}`);
    }
    this.warn = options.warn ?? ((m) => console.warn(`waypoint: ${m}`));
    this.best = this.direction === 'min' ? Infinity : -Infinity;
  }

  private improves(value: number, reference: number): boolean {
    return this.direction === 'min' ? value + this.minDelta < reference : value - this.minDelta > reference;
  }

  override async onTrainBegin(): Promise<void> {
    const keys = this.params?.metrics;
    if (keys && !keys.includes(this.monitor)) this.warn(`EarlyStopping monitors '${this.monitor}', which this fit does not log (available: ${keys.join(', ')})`);
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    const current = logs?.[this.monitor];
    if (current === undefined || epoch < this.startFromEpoch) return;
    if (this.restoreBestWeights && this.bestWeights === null) this.bestWeights = this.snapshot();
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
      if (this.restoreBestWeights && this.bestWeights) this.model.namedParams().forEach(([, p], i) => p.data.set(this.bestWeights![i]));
    }
  }

  private snapshot(): Float32Array[] {
    return this.model.namedParams().map(([, p]) => p.data.slice());
  }

  stateDict(): StateDict {
    const state: StateDict = { wait: this.wait, best: this.best, bestEpoch: this.bestEpoch, stoppedEpoch: this.stoppedEpoch };
    if (this.restoreBestWeights) {
      // Always present when enabled (the current weights stand in before a best exists), so the
      // saved keys do not depend on how far training got.
      const weights = this.bestWeights ?? this.snapshot();
      state.bestWeights = Object.fromEntries(this.model.namedParams().map(([path, p], i) => [path.replace(/\//g, '.'), new Tensor(weights[i], p.shape)]));
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
