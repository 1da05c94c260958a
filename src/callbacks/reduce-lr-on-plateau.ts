import { ArgumentError } from '../errors.js';
import type { StateDict } from '../state/tree.js';
import type { Trackable } from '../state/trackable.js';
import { type Mode, metricDirection } from '../state/mode.js';
import { Callback } from '../model/callback.js';
import type { Logs } from '../model/history.js';

export interface ReduceLROnPlateauOptions {
  monitor?: string;
  /** new rate = rate · factor (below 1). */
  factor?: number;
  /** Epochs without improvement before reducing. */
  patience?: number;
  mode?: Mode;
  /** Smallest change that counts as an improvement (default 1e-4). */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting again. */
  cooldown?: number;
  /** The rate never goes below this. */
  minLr?: number;
  verbose?: 0 | 1;
  write?: (line: string) => void;
  warn?: (message: string) => void;
}

/**
 * Lowers the optimizer's learning rate when a monitored value stops improving, as Keras's
 * ReduceLROnPlateau; the epoch's logs (and so the history) get `learning_rate`. Its best,
 * wait and cooldown are state, so a resumed run reduces exactly when the uninterrupted one did.
 */
export class ReduceLROnPlateau extends Callback implements Trackable {
  override readonly logsLearningRate = true;
  readonly monitor: string;
  readonly factor: number;
  readonly patience: number;
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  private readonly direction: 'min' | 'max';
  private readonly verbose: 0 | 1;
  private readonly write: (line: string) => void;
  private readonly warn: (message: string) => void;
  best: number | null = null;
  wait = 0;
  cooldownCounter = 0;

  constructor(options: ReduceLROnPlateauOptions = {}) {
    super();
    this.monitor = options.monitor ?? 'val_loss';
    const fail = (name: string, rule: string, value: unknown) => {
      throw new ArgumentError(`ReduceLROnPlateau: ${name} must be ${rule}, got ${String(value)}`);
    };
    this.factor = options.factor ?? 0.1;
    if (!(this.factor > 0 && this.factor < 1)) fail('factor', 'in (0, 1) (new rate = rate · factor)', this.factor);
    this.patience = options.patience ?? 10;
    if (!(Number.isInteger(this.patience) && this.patience >= 0))
      fail('patience', 'a non-negative integer of epochs', this.patience);
    this.cooldown = options.cooldown ?? 0;
    if (!(Number.isInteger(this.cooldown) && this.cooldown >= 0))
      fail('cooldown', 'a non-negative integer of epochs', this.cooldown);
    this.minDelta = Math.abs(options.minDelta ?? 1e-4);
    if (!Number.isFinite(this.minDelta)) fail('minDelta', 'a finite number', options.minDelta);
    this.minLr = options.minLr ?? 0;
    if (!(this.minLr >= 0)) fail('minLr', 'a non-negative number', this.minLr);
    const mode = options.mode ?? 'auto';
    if (!['min', 'max', 'auto'].includes(mode)) fail('mode', "'min', 'max' or 'auto'", `'${mode}'`);
    const direction = mode === 'auto' ? metricDirection(this.monitor) : mode;
    if (direction === null) {
      throw new ArgumentError(
        `ReduceLROnPlateau: cannot tell whether '${this.monitor}' should be minimized or maximized; pass mode: 'max' or mode: 'min'`,
      );
    }
    this.direction = direction;
    this.verbose = options.verbose ?? 0;
    this.write = options.write ?? ((l) => console.log(l));
    this.warn = options.warn ?? ((m) => console.warn(`waypoint: ${m}`));
  }

  /** As Keras: a fresh start for every fit (a resumed one gets its state back after this). */
  override async onTrainBegin(): Promise<void> {
    const optimizer = this.model.optimizer;
    if (optimizer?.schedule) {
      throw new ArgumentError(
        `ReduceLROnPlateau: the optimizer's learning rate follows a ${optimizer.schedule.className} schedule, which a callback cannot change; ` +
          'give the optimizer a plain learningRate to reduce it on plateaus',
      );
    }
    this.best = null;
    this.wait = 0;
    this.cooldownCounter = 0;
  }

  override async onEpochEnd(epoch: number, logs: Logs = {}): Promise<void> {
    const current = logs[this.monitor];
    if (current === undefined) {
      this.warn(
        `ReduceLROnPlateau: '${this.monitor}' is not in the logs (available: ${Object.keys(logs).join(', ')}); the learning rate stays`,
      );
      return;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    if (this.improves(current)) {
      this.best = current;
      this.wait = 0;
      return;
    }
    if (this.cooldownCounter > 0 || ++this.wait < this.patience) return;
    const optimizer = this.model.optimizer!;
    const old = optimizer.learningRate;
    if (!(old > Math.fround(this.minLr))) return;
    optimizer.learningRate = Math.max(old * this.factor, this.minLr);
    if (this.verbose)
      this.write(`Epoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${optimizer.learningRate}.`);
    this.cooldownCounter = this.cooldown;
    this.wait = 0;
  }

  private improves(value: number): boolean {
    if (this.best === null) return true;
    return this.direction === 'min' ? value + this.minDelta < this.best : value - this.minDelta > this.best;
  }

  stateDict(): StateDict {
    return { best: this.best, wait: this.wait, cooldownCounter: this.cooldownCounter };
  }

  loadStateDict(state: StateDict): void {
    this.best = state.best as number | null;
    this.wait = state.wait as number;
    this.cooldownCounter = state.cooldownCounter as number;
  }
}
