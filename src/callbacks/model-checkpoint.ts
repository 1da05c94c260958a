import { SaveTimer, type TimeInterval, checkSaveFreq } from '../checkpoint/save-timer.js';
import { type WhichWeights, checkWhichWeights, withWeights } from '../model/ema-weights.js';
import { basename, dirname, relative, sep } from '../paths.js';
import { ArgumentError } from '../errors.js';
import type { StateDict } from '../state/tree.js';
import type { Trackable } from '../state/trackable.js';
import { type Mode, resolveMode } from '../state/mode.js';
import { Callback } from '../model/callback.js';
import type { Logs } from '../model/history.js';
import { checkTemplate, formatTemplate, templateKeys } from './template.js';
import { escapeRegExp, ownerTag } from '../checkpoint/retention.js';
import { CheckpointManager } from '../checkpoint/manager.js';
import { type Storage, getDefaultStorage } from '../storage/storage.js';
import { osError } from '../storage/os-errors.js';
import { trainingCheckpoint, weightsCheckpoint } from '../model/persistence.js';

export interface ModelCheckpointOptions {
  /** Path template: `ckpt/{epoch:02d}-{val_loss:.4f}.wpt`; `{epoch}` and `{batch}` are 1-based. */
  filepath: string;
  monitor?: string;
  mode?: Mode;
  saveBestOnly?: boolean;
  saveWeightsOnly?: boolean;
  /** 'epoch', every N batches (counted across epochs), or by wall-clock time: `{ minutes }` or `{ seconds }` (checked at each batch's end). */
  saveFreq?: 'epoch' | number | TimeInterval;
  /** With a time `saveFreq`: the share of training time saves may block (e.g. 0.01); the interval stretches as far as that needs. */
  overheadBudget?: number;
  /** The monotonic clock of time-based saves, in milliseconds (default `performance.now`; tests pass a fake one). */
  monotonicNow?: () => number;
  /** With saveBestOnly: only values better than this count as improvements. */
  initialValueThreshold?: number;
  /** Also save the final model here when training ends, whatever the result. */
  saveLast?: string;
  verbose?: 0 | 1;
  /** Keep only the newest N files of this template (deleting older ones); default all. */
  maxToKeep?: number;
  /** A failed save stops training ('raise', the default) or is reported and skipped ('warn'). */
  onSaveError?: 'raise' | 'warn';
  write?: (line: string) => void;
  /** Where the files go (default: the default storage). */
  storage?: Storage;
  /**
   * Log `checkpoint_overhead` at each epoch end: the share of wall time since the previous
   * epoch's logs that saves blocked training. Off by default: a wall-clock value in the
   * history differs between a resumed run and an uninterrupted one.
   */
  logOverhead?: boolean;
  /** Record each file's SHA-256 in the manifest and check it before a restore or load trusts the file (see CheckpointManager). */
  hash?: 'sha256';
  /** What a save of NaN or infinite weights does (default 'warn'). */
  onNonFinite?: 'warn' | 'error' | 'allow';
  /**
   * 'raw' (default): the weights as trained. 'ema': the optimizer's moving averages in their
   * place (the optimizer must have `ema`), for a file to deploy; resume from a raw one.
   */
  weights?: WhichWeights;
}

/**
 * Saves the model (or its weights) during training, as Keras's ModelCheckpoint. Its files are
 * managed by a CheckpointManager over the template's fixed directory, with a manifest and a lock
 * of their own (`.<template>.manifest.json`), so retention, the sweep of a killed save's
 * temporary files and the adoption of files a kill left unrecorded are the manager's.
 */
export class ModelCheckpoint extends Callback implements Trackable {
  readonly filepath: string;
  readonly monitor: string;
  readonly mode: Mode;
  readonly saveBestOnly: boolean;
  readonly saveWeightsOnly: boolean;
  readonly saveFreq: 'epoch' | number | TimeInterval;
  readonly saveLast?: string;
  private readonly timeMs: number | null;
  private timer: SaveTimer | null = null;
  readonly weights: WhichWeights;
  override readonly logsCheckpointOverhead: boolean;
  private readonly verbose: 0 | 1;
  private readonly write: (line: string) => void;
  private readonly threshold: number | undefined;
  best: number;
  /** Batches trained since training began (batch-level saveFreq counts across epochs). */
  batchesSeen = 0;
  /** Every path written, in order (for tools and tests). */
  readonly saved: string[] = [];
  private readonly maxToKeep?: number;
  private manager: CheckpointManager | null = null;
  private readonly onSaveError: 'raise' | 'warn';
  private readonly options: ModelCheckpointOptions;

  constructor(options: ModelCheckpointOptions) {
    super();
    if (typeof options?.filepath !== 'string' || options.filepath === '') {
      throw new ArgumentError(
        `ModelCheckpoint: filepath must be a non-empty path template, got ${JSON.stringify(options?.filepath)}`,
      );
    }
    this.options = options;
    checkTemplate(options.filepath);
    this.filepath = options.filepath;
    this.monitor = options.monitor ?? 'val_loss';
    this.mode = options.mode ?? 'auto';
    if (!['min', 'max', 'auto'].includes(this.mode))
      throw new ArgumentError(`ModelCheckpoint: mode must be 'min', 'max' or 'auto', got '${String(this.mode)}'`);
    this.saveBestOnly = options.saveBestOnly ?? false;
    this.saveWeightsOnly = options.saveWeightsOnly ?? false;
    this.weights = checkWhichWeights('ModelCheckpoint', options.weights);
    this.logsCheckpointOverhead = options.logOverhead ?? false;
    this.saveFreq = options.saveFreq ?? 'epoch';
    this.timeMs = checkSaveFreq('ModelCheckpoint', this.saveFreq, options.overheadBudget);
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
    return {
      storage: this.storage,
      onNonFinite: this.options.onNonFinite,
      warn: (m: string) => this.write(`waypoint: ${m}`),
    };
  }

  private get direction(): 'min' | 'max' {
    return resolveMode(this.mode, this.monitor);
  }

  private initialBest(): number {
    return this.threshold ?? (this.direction === 'min' ? Infinity : -Infinity);
  }

  /** Refuses settings that would silently never save: keys that will not exist at the save points. */
  override async onTrainBegin(): Promise<void> {
    await this.openManager();
    if (this.timeMs !== null)
      this.timer = new SaveTimer(this.timeMs, this.options.overheadBudget, this.options.monotonicNow);
    if (this.params === null) return; // called by hand: no fit whose keys could be checked
    const available = this.saveFreq === 'epoch' ? this.params.metrics : this.params.batchMetrics;
    const where =
      this.saveFreq === 'epoch'
        ? 'at the end of each epoch'
        : this.timeMs !== null
          ? 'at the batch ends where timed saves happen'
          : `every ${this.saveFreq} batches`;
    const unknown = templateKeys(this.filepath).filter((k) => k !== 'epoch' && k !== 'batch' && !available.includes(k));
    if (this.saveFreq === 'epoch' && templateKeys(this.filepath).includes('batch')) unknown.push('batch');
    if (this.saveBestOnly && !available.includes(this.monitor)) unknown.push(this.monitor);
    if (unknown.length) {
      throw new ArgumentError(
        `ModelCheckpoint: ${[...new Set(unknown)].map((k) => `'${k}'`).join(', ')} will not exist ${where} (available: ${available.join(', ')})` +
          (unknown.some((k) => k.startsWith('val_'))
            ? '; validation metrics exist only at epoch ends, and only with validation data'
            : ''),
      );
    }
  }

  override async onBatchEnd(batch: number, logs?: Logs): Promise<void> {
    this.batchesSeen++;
    const values = () => ({ ...logs, epoch: (this.context?.epoch ?? 0) + 1, batch: batch + 1 });
    if (this.timer !== null) {
      if (this.timer.due()) await this.timer.time(() => this.maybeSave(values()));
      return;
    }
    if (this.saveFreq !== 'epoch' && this.batchesSeen % (this.saveFreq as number) === 0) await this.maybeSave(values());
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') await this.maybeSave({ ...logs, epoch: epoch + 1 });
  }

  override async onTrainEnd(): Promise<void> {
    try {
      if (this.saveLast) {
        await this.storage.mkdirp(dirname(this.saveLast)).catch((cause) => {
          throw osError('ModelCheckpoint cannot create the directory', dirname(this.saveLast!), cause);
        });
        // The whole model, even with saveWeightsOnly.
        await withWeights(this.model, this.weights, 'ModelCheckpoint', () =>
          this.model.save(this.saveLast!, this.saveOptions()),
        );
        this.saved.push(this.saveLast);
      }
    } finally {
      await this.closeManager();
    }
  }

  /** A failed or interrupted fit frees the directory's lock; the files already saved stay. */
  override async onTrainAbort(): Promise<void> {
    await this.closeManager().catch((e: Error) =>
      this.write(`waypoint: closing ${this.filepath}'s manager failed: ${e.message}`),
    );
  }

  /** The manager of this template's files, opened at the first save or at train begin (hooks may be called by hand). */
  private async openManager(): Promise<CheckpointManager> {
    if (this.manager === null) {
      const { directory, isCheckpointFile, manifestName } = templateFiles(this.filepath);
      const checkpoint = this.saveWeightsOnly ? weightsCheckpoint(this.model) : trainingCheckpoint(this.model);
      this.manager = new CheckpointManager(checkpoint, directory, {
        maxToKeep: this.maxToKeep ?? null,
        manifestName,
        isCheckpointFile,
        fileKind: this.saveWeightsOnly ? 'weights' : 'model',
        storage: this.storage,
        onNonFinite: this.options.onNonFinite,
        hash: this.options.hash,
        warn: (m) => this.write(`waypoint: ${m}`),
      });
    }
    await this.manager.ready;
    return this.manager;
  }

  private async closeManager(): Promise<void> {
    const manager = this.manager;
    this.manager = null;
    await manager?.close();
  }

  private async maybeSave(values: Record<string, number>): Promise<void> {
    const path = formatTemplate(this.filepath, values);
    if (this.saveBestOnly) {
      const current = values[this.monitor];
      if (current === undefined) {
        // not logged this epoch (validationFreq): nothing to compare, as Keras skips
        if (this.verbose) this.write(`Epoch ${values.epoch}: ${this.monitor} is not available, skipping`);
        return;
      }
      const improved = this.direction === 'min' ? current < this.best : current > this.best;
      if (!improved) {
        if (this.verbose)
          this.write(`Epoch ${values.epoch}: ${this.monitor} did not improve from ${this.best.toFixed(5)}`);
        return;
      }
      if (this.verbose)
        this.write(
          `Epoch ${values.epoch}: ${this.monitor} improved from ${this.best.toFixed(5)} to ${current.toFixed(5)}, saving model to ${path}`,
        );
      this.best = current;
    } else if (this.verbose) {
      this.write(`Epoch ${values.epoch}: saving model to ${path}`);
    }
    await this.saveTo(path, values);
  }

  private async saveTo(path: string, values: Record<string, number>): Promise<void> {
    const started = performance.now();
    try {
      const manager = await this.openManager();
      const { epoch, batch: _batch, ...metrics } = values;
      await withWeights(this.model, this.weights, 'ModelCheckpoint', () =>
        manager.save({
          file: relative(manager.directory, path),
          step: this.batchesSeen,
          epoch,
          metrics,
          force: true,
        }),
      );
    } catch (e) {
      if (this.onSaveError === 'raise') throw e;
      this.write(`waypoint: saving ${path} failed, training goes on: ${(e as Error).message}`);
      return;
    } finally {
      if (this.context) this.context.checkpointMs += performance.now() - started;
    }
    this.saved.push(path);
  }

  stateDict(): StateDict {
    return { best: this.best, batchesSeen: this.batchesSeen };
  }

  /** Also reads states written before the manager kept the file list (their `kept` is the manifest's job now). */
  loadStateDict(state: StateDict): void {
    this.best = state.best as number;
    this.batchesSeen = state.batchesSeen as number;
  }
}

/**
 * Where a template's files live for its manager: the longest directory without a `{` (files
 * below it may sit in templated sub-directories), which names in it are the template's files,
 * and a manifest named after the template so that several templates can share a directory.
 * The manifest's name is the template with other characters than letters, digits, '.', '-'
 * and the template's own `{`, `}`, `:` and '/' made '_'; where that could name two templates
 * alike (a literal '_', '+', or any other character) or would be too long for a file name,
 * 8 hex digits of the template's CRC-32 are added, so each template has a manifest and a lock of its own.
 */
function templateFiles(template: string): {
  directory: string;
  isCheckpointFile: (name: string) => boolean;
  manifestName: string;
} {
  const parts = template.split(sep);
  const firstTemplated = parts.findIndex((p) => p.includes('{'));
  const fixed = firstTemplated === -1 || firstTemplated === parts.length - 1 ? parts.length - 1 : firstTemplated;
  const directory = parts.slice(0, fixed).join(sep) || '.';
  const name = new RegExp(
    `^${basename(template)
      .split(/\{[^}]*\}/)
      .map(escapeRegExp)
      .join('.*')}$`,
  );
  const below = parts.slice(fixed).join(sep);
  const plain = below.replace(/[^\w.-]/g, '_');
  const ambiguous = /[^A-Za-z0-9.\-/]/.test(below.replace(/\{[^}]*\}/g, '')) || plain.length > MAX_PLAIN_NAME;
  const stem = ambiguous ? `${plain.slice(0, MAX_PLAIN_NAME)}-${ownerTag(below)}` : plain;
  return {
    directory,
    isCheckpointFile: (n) => fixed === parts.length - 1 && name.test(n),
    manifestName: `.${stem}.manifest.json`,
  };
}

/** Template names longer than this are shortened in the manifest's name (which, with the lock's, must fit in 255 bytes). */
const MAX_PLAIN_NAME = 160;
