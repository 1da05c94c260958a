import { rm } from 'node:fs/promises';
import { ArgumentError } from '../../errors.js';
import { CheckpointManager } from '../../checkpoint/manager.js';
import type { JsonValue, StateDict } from '../../checkpoint/state.js';
import { type LoadOptions, type Trackable, isTrackable } from '../../checkpoint/trackable.js';
import { Callback } from '../callback.js';
import type { EpochTotals } from '../fit.js';
import { trainingCheckpoint } from '../persistence.js';

export interface BackupAndRestoreOptions {
  backupDir: string;
  /** 'epoch', or back up every N batches (counted across epochs). */
  saveFreq?: 'epoch' | number;
  /** Remove the backup once training ends normally. */
  deleteCheckpoint?: boolean;
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
  /** The path restored from on train begin, if any. */
  restoredFrom: string | null = null;

  constructor(private readonly options: BackupAndRestoreOptions) {
    super();
    this.backupDir = options.backupDir;
    this.saveFreq = options.saveFreq ?? 'epoch';
    if (this.saveFreq !== 'epoch' && !(Number.isInteger(this.saveFreq) && this.saveFreq > 0)) {
      throw new ArgumentError(`BackupAndRestore: saveFreq must be 'epoch' or a positive integer of batches, got ${String(this.saveFreq)}`);
    }
    this.deleteCheckpoint = options.deleteCheckpoint ?? true;
  }

  /** The other callbacks whose state must survive too (ModelCheckpoint's best, EarlyStopping's wait). */
  private peerStates(): Trackable {
    const tracked = () => {
      const seen = new Map<string, number>();
      return this.peers.filter((c): c is Callback & Trackable => c !== this && isTrackable(c)).map((c) => {
        const n = seen.get(c.constructor.name) ?? 0;
        seen.set(c.constructor.name, n + 1);
        return [n === 0 ? c.constructor.name : `${c.constructor.name}_${n}`, c] as const;
      });
    };
    return {
      stateDict: () => Object.fromEntries(tracked().map(([k, c]) => [k, c.stateDict()])),
      loadStateDict: (s: StateDict, o?: LoadOptions) => { for (const [k, c] of tracked()) if (s[k]) c.loadStateDict(s[k] as StateDict, o); },
    };
  }

  override async onTrainBegin(): Promise<void> {
    const progress: Trackable = {
      stateDict: () => ({ position: this.progress as unknown as JsonValue }),
      loadStateDict: (s: StateDict) => { this.progress = s.position as unknown as Progress; },
    };
    const checkpoint = trainingCheckpoint(this.model, { progress, callbacks: this.peerStates() });
    this.manager = new CheckpointManager(checkpoint, this.backupDir, { maxToKeep: 1, checkpointName: 'backup', async: this.options.async, warn: this.options.warn });
    this.progress = { epoch: this.model.fitState!.initialEpoch, batch: 0, totals: null, batchesSeen: 0 };
    this.restoredFrom = await this.manager.restoreOrInitialize();
    if (this.restoredFrom) {
      const state = this.model.fitState!;
      state.initialEpoch = this.progress.epoch;
      state.initialBatch = this.progress.batch;
      state.totals = this.progress.totals;
    }
  }

  override async onBatchEnd(batch: number): Promise<void> {
    this.progress.batchesSeen++;
    if (this.saveFreq === 'epoch' || this.progress.batchesSeen % this.saveFreq !== 0) return;
    const state = this.model.fitState!;
    this.progress = { epoch: state.epoch, batch: batch + 1, totals: structuredClone(state.currentTotals), batchesSeen: this.progress.batchesSeen };
    await this.backup(state.epoch * state.batchesPerEpoch + batch + 1);
  }

  override async onEpochEnd(epoch: number): Promise<void> {
    if (this.saveFreq !== 'epoch') return;
    this.progress = { epoch: epoch + 1, batch: 0, totals: null, batchesSeen: this.progress.batchesSeen };
    await this.backup((epoch + 1) * this.model.fitState!.batchesPerEpoch);
  }

  private async backup(step: number): Promise<void> {
    try {
      await this.manager!.save({ step, epoch: this.progress.epoch, force: true });
    } catch (e) {
      if ((this.options.onSaveError ?? 'raise') === 'raise') throw e;
      (this.options.warn ?? ((m) => console.warn(`waypoint: ${m}`)))(`backup at step ${step} failed, training goes on: ${(e as Error).message}`);
    }
  }

  override async onTrainEnd(): Promise<void> {
    await this.manager?.close();
    this.manager = null;
    if (this.deleteCheckpoint) await rm(this.backupDir, { recursive: true, force: true });
  }

  /** A failed fit keeps its backup (that is the point) but frees the directory's lock. */
  override async onTrainAbort(): Promise<void> {
    await this.manager?.close().catch(() => undefined);
    this.manager = null;
  }
}
