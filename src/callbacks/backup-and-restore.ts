import { ArgumentError } from '../errors.js';
import { CheckpointManager } from '../checkpoint/manager.js';
import type { JsonValue, StateDict } from '../state/tree.js';
import { type LoadOptions, type Trackable, isTrackable } from '../state/trackable.js';
import { Callback } from '../model/callback.js';
import type { EpochTotals } from '../model/callback.js';
import { trainingCheckpoint } from '../model/persistence.js';
import type { Storage } from '../storage/storage.js';
import { TrainingInterruptedError } from '../model/interrupt.js';

export interface BackupAndRestoreOptions {
  backupDir: string;
  /** 'epoch', or back up every N batches (counted across epochs). */
  saveFreq?: 'epoch' | number;
  /** Remove the backup once training ends normally (only the files the backup wrote). */
  deleteCheckpoint?: boolean;
  /**
   * When the fit is interrupted (`model.interrupt()`, `interruptOnSignals`), back up the
   * exact batch position before it stops, whatever `saveFreq` says. Default true.
   */
  saveOnInterrupt?: boolean;
  /** Keep the previous backup beside the latest, so a damaged latest one falls back to it (default false, as Keras). */
  doubleCheckpoint?: boolean;
  /** Where the backups go (default: the default storage). */
  storage?: Storage;
  /** Take over the backup directory's lock even from a holder that looks alive (see CheckpointManager). */
  takeOverLock?: boolean;
  /** What a backup of NaN or infinite weights does (default 'warn'). */
  onNonFinite?: 'warn' | 'error' | 'allow';
  /** Write backups in the background (the next one waits for the last). */
  async?: boolean;
  /** A failed backup stops training ('raise', the default) or is reported and skipped ('warn'). */
  onSaveError?: 'raise' | 'warn';
  warn?: (message: string) => void;
}

/** Where a resumed fit continues: the next batch to train and that epoch's running totals. */
interface Progress {
  epoch: number;
  batch: number;
  totals: EpochTotals | null;
  batchesSeen: number;
  /** Batches trained since epoch 0 (absent in backups written before datasets: epoch × steps + batch). */
  stepsDone?: number;
}

/**
 * Makes a killed fit resumable, as Keras's BackupAndRestore: it backs up weights, optimizer,
 * RNG, history, the position in training and the other callbacks' state; on train begin it
 * restores the latest backup and the fit continues at the next batch of the same shuffled
 * order, producing the same numbers as a run that was never interrupted.
 */
export class BackupAndRestore extends Callback {
  readonly backupDir: string;
  readonly saveFreq: 'epoch' | number;
  readonly deleteCheckpoint: boolean;
  private manager: CheckpointManager | null = null;
  private progress: Progress = { epoch: 0, batch: 0, totals: null, batchesSeen: 0 };
  /** The position after the last batch trained (progress is the last one backed up). */
  private trained = { epoch: 0, batch: 0 };
  /** The path restored from on train begin, if any. */
  restoredFrom: string | null = null;

  constructor(private readonly options: BackupAndRestoreOptions) {
    super();
    if (typeof options?.backupDir !== 'string' || options.backupDir === '') {
      throw new ArgumentError(
        `BackupAndRestore: backupDir must be a non-empty directory path, got ${JSON.stringify(options?.backupDir)}`,
      );
    }
    this.backupDir = options.backupDir;
    this.saveFreq = options.saveFreq ?? 'epoch';
    if (this.saveFreq !== 'epoch' && !(Number.isInteger(this.saveFreq) && this.saveFreq > 0)) {
      throw new ArgumentError(
        `BackupAndRestore: saveFreq must be 'epoch' or a positive integer of batches, got ${String(this.saveFreq)}`,
      );
    }
    this.deleteCheckpoint = options.deleteCheckpoint ?? true;
  }

  /**
   * The other callbacks whose state must survive too (ModelCheckpoint's best, EarlyStopping's
   * wait). Their saved state is applied once every onTrainBegin has run: those hooks reset it.
   */
  private peerStates(): Trackable {
    const tracked = () => {
      const seen = new Map<string, number>();
      return this.peers
        .filter((c): c is Callback & Trackable => c !== this && isTrackable(c))
        .map((c) => {
          const n = seen.get(c.constructor.name) ?? 0;
          seen.set(c.constructor.name, n + 1);
          return [n === 0 ? c.constructor.name : `${c.constructor.name}_${n}`, c] as const;
        });
    };
    const apply = (s: StateDict, o?: LoadOptions) => {
      for (const [k, c] of tracked()) if (s[k]) c.loadStateDict(s[k] as StateDict, o);
    };
    return {
      stateDict: () => Object.fromEntries(tracked().map(([k, c]) => [k, c.stateDict()])),
      loadStateDict: (s: StateDict, o?: LoadOptions) => {
        if (this.context) this.context.afterTrainBegin(() => apply(s, o));
        else apply(s, o);
      },
    };
  }

  override async onTrainBegin(): Promise<void> {
    const progress: Trackable = {
      stateDict: () => ({ position: this.progress as unknown as JsonValue }),
      loadStateDict: (s: StateDict) => {
        this.progress = s.position as unknown as Progress;
      },
    };
    // A dataset's position and its shuffles' passes go with the model: the fit continues at the next sample.
    const data = this.context?.data;
    const checkpoint = trainingCheckpoint(this.model, {
      progress,
      callbacks: this.peerStates(),
      ...(data ? { data } : {}),
    });
    const o = this.options;
    // With doubleCheckpoint the previous backup stays too: a damaged latest one falls back to it.
    this.manager = new CheckpointManager(checkpoint, this.backupDir, {
      maxToKeep: o.doubleCheckpoint ? 2 : 1,
      checkpointName: 'backup',
      async: o.async,
      warn: o.warn,
      storage: o.storage,
      takeOverLock: o.takeOverLock,
      onNonFinite: o.onNonFinite,
    });
    // Outside a fit (a hook called by hand) the model is still restored; there is no start to move.
    const context = this.context;
    this.progress = { epoch: context?.start.epoch ?? 0, batch: 0, totals: null, batchesSeen: 0 };
    this.restoredFrom = await this.manager.restoreOrInitialize();
    if (this.restoredFrom && context)
      context.resumeAt({
        epoch: this.progress.epoch,
        batch: this.progress.batch,
        totals: this.progress.totals,
        stepsDone: this.progress.stepsDone,
      });
    this.trained = { epoch: this.progress.epoch, batch: this.progress.batch };
  }

  override async onBatchEnd(batch: number): Promise<void> {
    this.progress.batchesSeen++;
    this.trained = { epoch: this.fitContext('onBatchEnd').epoch, batch: batch + 1 };
    if (this.saveFreq === 'epoch' || this.progress.batchesSeen % this.saveFreq !== 0) return;
    await this.backupHere();
  }

  override async onEpochEnd(epoch: number): Promise<void> {
    this.trained = { epoch: epoch + 1, batch: 0 };
    if (this.saveFreq !== 'epoch') return;
    await this.backupHere();
  }

  /** Backs up the position after the last batch trained (mid-epoch: with the epoch's running totals). */
  private async backupHere(): Promise<void> {
    const context = this.fitContext('a backup');
    const { epoch, batch } = this.trained;
    this.progress = {
      epoch,
      batch,
      totals: batch > 0 ? structuredClone(context.totals) : null,
      batchesSeen: this.progress.batchesSeen,
      stepsDone: context.stepsDone,
    };
    await this.backup(context.stepsDone);
  }

  /** The running fit's context: a backup needs to know where the fit is. */
  private fitContext(where: string) {
    if (this.context === null)
      throw new ArgumentError(
        `BackupAndRestore: ${where} outside a fit (it needs the fit's position: model.fit sets it)`,
      );
    return this.context;
  }

  private async backup(step: number): Promise<void> {
    try {
      await this.manager!.save({ step, epoch: this.progress.epoch, force: true });
    } catch (e) {
      if ((this.options.onSaveError ?? 'raise') === 'raise') throw e;
      this.warnOf(`backup at step ${step} failed, training goes on: ${(e as Error).message}`);
    }
  }

  /**
   * Training finished: the backup is deleted (or kept, with deleteCheckpoint: false). A
   * cleanup that fails is reported, never a failed fit: the training is done, and the
   * callbacks after this one still save the final model.
   */
  override async onTrainEnd(): Promise<void> {
    const manager = this.manager;
    this.manager = null;
    const cleanup = this.deleteCheckpoint ? manager?.deleteAll() : manager?.close();
    await cleanup?.catch((e: Error) =>
      this.warnOf(`training finished, but cleaning up the backup in ${this.backupDir} failed: ${e.message}`),
    );
  }

  /**
   * A failed fit keeps its backup (that is the point) but frees the directory's lock. An
   * interrupted one first backs up the batch it stopped at, unless that is the last backup.
   */
  override async onTrainAbort(error: unknown): Promise<void> {
    const manager = this.manager;
    if (manager === null) return;
    const { epoch, batch } = this.trained;
    const unsaved = epoch !== this.progress.epoch || batch !== this.progress.batch;
    if (error instanceof TrainingInterruptedError && (this.options.saveOnInterrupt ?? true) && unsaved) {
      await this.backupHere().catch((e: Error) => this.warnOf(`the backup at the interruption failed: ${e.message}`));
    }
    this.manager = null;
    await manager.close().catch((e: Error) => this.warnOf(`closing the backup failed: ${e.message}`));
  }

  private warnOf(message: string): void {
    (this.options.warn ?? ((m) => console.warn(`waypoint: ${m}`)))(message);
  }
}
