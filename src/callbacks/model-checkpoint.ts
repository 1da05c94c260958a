import { basename, dirname } from 'node:path';
import { ArgumentError } from '../errors.js';
import type { StateDict } from '../state/tree.js';
import type { Trackable } from '../state/trackable.js';
import { type Mode, resolveMode } from '../state/mode.js';
import { Callback } from '../model/callback.js';
import type { Logs } from '../model/history.js';
import { checkTemplate, formatTemplate, templateKeys } from './template.js';
import { escapeRegExp, sweep, sweepTemporaries } from '../checkpoint/retention.js';
import { type Storage, getDefaultStorage } from '../checkpoint/storage/storage.js';
import { osError } from '../checkpoint/storage/os-errors.js';

export interface ModelCheckpointOptions {
  /** Path template: `ckpt/{epoch:02d}-{val_loss:.4f}.wpt`; `{epoch}` and `{batch}` are 1-based. */
  filepath: string;
  monitor?: string;
  mode?: Mode;
  saveBestOnly?: boolean;
  saveWeightsOnly?: boolean;
  /** 'epoch', or save every N batches (counted across epochs). */
  saveFreq?: 'epoch' | number;
  /** With saveBestOnly: only values better than this count as improvements. */
  initialValueThreshold?: number;
  /** Also save the final model here when training ends, whatever the result. */
  saveLast?: string;
  verbose?: 0 | 1;
  /** Keep only the newest N files this callback wrote (deleting older ones); default all. */
  maxToKeep?: number;
  /** A failed save stops training ('raise', the default) or is reported and skipped ('warn'). */
  onSaveError?: 'raise' | 'warn';
  write?: (line: string) => void;
  /** Where the files go (default: the default storage). */
  storage?: Storage;
  /** What a save of NaN or infinite weights does (default 'warn'). */
  onNonFinite?: 'warn' | 'error' | 'allow';
}

/** Saves the model (or its weights) during training, as Keras's ModelCheckpoint. */
export class ModelCheckpoint extends Callback implements Trackable {
  readonly filepath: string;
  readonly monitor: string;
  readonly mode: Mode;
  readonly saveBestOnly: boolean;
  readonly saveWeightsOnly: boolean;
  readonly saveFreq: 'epoch' | number;
  readonly saveLast?: string;
  private readonly verbose: 0 | 1;
  private readonly write: (line: string) => void;
  private readonly threshold: number | undefined;
  best: number;
  /** Batches trained since training began (batch-level saveFreq counts across epochs). */
  batchesSeen = 0;
  /** Every path written, in order (for tools and tests). */
  readonly saved: string[] = [];
  /** The files still on disk that maxToKeep counts (restored with the callback's state). */
  private kept: string[] = [];
  private readonly maxToKeep?: number;
  private readonly onSaveError: 'raise' | 'warn';
  private readonly options: ModelCheckpointOptions;

  constructor(options: ModelCheckpointOptions) {
    super();
    if (typeof options?.filepath !== 'string' || options.filepath === '') {
      throw new ArgumentError(`ModelCheckpoint: filepath must be a non-empty path template, got ${JSON.stringify(options?.filepath)}`);
    }
    this.options = options;
    checkTemplate(options.filepath);
    this.filepath = options.filepath;
    this.monitor = options.monitor ?? 'val_loss';
    this.mode = options.mode ?? 'auto';
    if (!['min', 'max', 'auto'].includes(this.mode)) throw new ArgumentError(`ModelCheckpoint: mode must be 'min', 'max' or 'auto', got '${String(this.mode)}'`);
    this.saveBestOnly = options.saveBestOnly ?? false;
    this.saveWeightsOnly = options.saveWeightsOnly ?? false;
    this.saveFreq = options.saveFreq ?? 'epoch';
    if (this.saveFreq !== 'epoch' && !(Number.isInteger(this.saveFreq) && this.saveFreq > 0)) {
      throw new ArgumentError(`ModelCheckpoint: saveFreq must be 'epoch' or a positive integer of batches, got ${String(this.saveFreq)}`);
    }
    this.saveLast = options.saveLast;
    this.verbose = options.verbose ?? 0;
    this.write = options.write ?? ((l) => console.log(l));
    this.threshold = options.initialValueThreshold;
    if (options.maxToKeep !== undefined && !(Number.isInteger(options.maxToKeep) && options.maxToKeep >= 1)) {
      throw new ArgumentError(`ModelCheckpoint: maxToKeep must be a positive integer, got ${options.maxToKeep}`);
    }
    this.maxToKeep = options.maxToKeep;
    this.onSaveError = options.onSaveError ?? 'raise';
    this.best = this.initialBest();
  }

  private get storage(): Storage {
    return this.options.storage ?? getDefaultStorage();
  }

  private saveOptions() {
    return { storage: this.storage, onNonFinite: this.options.onNonFinite, warn: (m: string) => this.write(`waypoint: ${m}`) };
  }

  private get direction(): 'min' | 'max' {
    return resolveMode(this.mode, this.monitor);
  }

  private initialBest(): number {
    return this.threshold ?? (this.direction === 'min' ? Infinity : -Infinity);
  }

  /** Refuses settings that would silently never save: keys that will not exist at the save points. */
  override async onTrainBegin(): Promise<void> {
    await removeLeftovers(this.storage, this.filepath);
    if (this.params === null) return; // called by hand: no fit whose keys could be checked
    const available = this.saveFreq === 'epoch' ? this.params.metrics : this.params.batchMetrics;
    const where = this.saveFreq === 'epoch' ? 'at the end of each epoch' : `every ${this.saveFreq} batches`;
    const unknown = templateKeys(this.filepath).filter((k) => k !== 'epoch' && k !== 'batch' && !available.includes(k));
    if (this.saveFreq === 'epoch' && templateKeys(this.filepath).includes('batch')) unknown.push('batch');
    if (this.saveBestOnly && !available.includes(this.monitor)) unknown.push(this.monitor);
    if (unknown.length) {
      throw new ArgumentError(`ModelCheckpoint: ${[...new Set(unknown)].map((k) => `'${k}'`).join(', ')} will not exist ${where} (available: ${available.join(', ')})`
        + (unknown.some((k) => k.startsWith('val_')) ? '; validation metrics exist only at epoch ends, and only with validation data' : ''));
    }
  }

  override async onBatchEnd(batch: number, logs?: Logs): Promise<void> {
    this.batchesSeen++;
    if (this.saveFreq !== 'epoch' && this.batchesSeen % this.saveFreq === 0) {
      await this.maybeSave({ ...logs, epoch: (this.context?.epoch ?? 0) + 1, batch: batch + 1 });
    }
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') await this.maybeSave({ ...logs, epoch: epoch + 1 });
  }

  override async onTrainEnd(): Promise<void> {
    if (this.saveLast) {
      await this.storage.mkdirp(dirname(this.saveLast)).catch((cause) => { throw osError('ModelCheckpoint cannot create the directory', dirname(this.saveLast!), cause); });
      await this.model.save(this.saveLast, this.saveOptions()); // the whole model, even with saveWeightsOnly
      this.saved.push(this.saveLast);
    }
  }

  private async maybeSave(values: Record<string, number>): Promise<void> {
    const path = formatTemplate(this.filepath, values);
    if (this.saveBestOnly) {
      const current = values[this.monitor];
      if (current === undefined) { // not logged this epoch (validationFreq): nothing to compare, as Keras skips
        if (this.verbose) this.write(`Epoch ${values.epoch}: ${this.monitor} is not available, skipping`);
        return;
      }
      const improved = this.direction === 'min' ? current < this.best : current > this.best;
      if (!improved) {
        if (this.verbose) this.write(`Epoch ${values.epoch}: ${this.monitor} did not improve from ${this.best.toFixed(5)}`);
        return;
      }
      if (this.verbose) this.write(`Epoch ${values.epoch}: ${this.monitor} improved from ${this.best.toFixed(5)} to ${current.toFixed(5)}, saving model to ${path}`);
      this.best = current;
    } else if (this.verbose) {
      this.write(`Epoch ${values.epoch}: saving model to ${path}`);
    }
    await this.saveTo(path);
  }

  private async saveTo(path: string): Promise<void> {
    try {
      await this.storage.mkdirp(dirname(path)).catch((cause) => { throw osError('ModelCheckpoint cannot create the directory', dirname(path), cause); });
      if (this.saveWeightsOnly) await this.model.saveWeights(path, this.saveOptions());
      else await this.model.save(path, this.saveOptions());
    } catch (e) {
      if (this.onSaveError === 'raise') throw e;
      this.write(`waypoint: saving ${path} failed, training goes on: ${(e as Error).message}`);
      return;
    }
    this.saved.push(path);
    const kept = [...this.kept.filter((p) => p !== path), path].map((file, step) => ({ file, step, size: 0, metrics: {} }));
    const { keep, remove } = sweep(kept, kept.at(-1)!, { maxToKeep: this.maxToKeep ?? null, keepEveryNHours: null, bestOf: null, maxBytes: null }, 0, () => 0);
    this.kept = keep.map((e) => e.file);
    for (const e of remove) await this.storage.remove(e.file);
  }

  stateDict(): StateDict {
    return { best: this.best, batchesSeen: this.batchesSeen, kept: [...this.kept] };
  }

  loadStateDict(state: StateDict): void {
    this.best = state.best as number;
    this.batchesSeen = state.batchesSeen as number;
    this.kept = [...((state.kept as string[] | undefined) ?? [])];
  }
}

/** Deletes the temporary files a killed save of this template left in its directory, and nothing else there. */
async function removeLeftovers(storage: Storage, template: string): Promise<void> {
  const dir = dirname(template);
  if (dir.includes('{')) return; // the directory itself varies: nothing fixed to clean
  const name = new RegExp(`^${basename(template).split(/\{[^}]*\}/).map(escapeRegExp).join('.*')}$`);
  await sweepTemporaries(storage, dir, (target) => name.test(target));
}
