import { ArgumentError } from '../errors.js';
import { CheckpointManager } from '../checkpoint/manager.js';
import type { JsonValue, StateDict } from '../state/tree.js';
import { type LoadOptions, type Trackable, isTrackable } from '../state/trackable.js';
import { Callback } from '../model/callback.js';
import type { EpochTotals } from '../model/callback.js';
import { trainingCheckpoint } from '../model/persistence.js';
import type { Storage } from '../storage/storage.js';
import { platform } from '../platform.js';
import { TrainingInterruptedError } from '../model/interrupt.js';
import { SaveTimer, type TimeInterval, checkSaveFreq } from '../checkpoint/save-timer.js';

export interface BackupAndRestoreOptions {
  backupDir: string;
  /**
   * 'epoch', every N batches (counted across epochs), or by wall-clock time: `{ minutes }` or
   * `{ seconds }` (checked at each batch's end, counted from the last backup's end).
   */
  saveFreq?: 'epoch' | number | TimeInterval;
  /**
   * With a time `saveFreq`: the share of training time backups may block (e.g. 0.01); after
   * each backup the interval stretches as far as that needs.
   */
  overheadBudget?: number;
  /** The monotonic clock of time-based backups, in milliseconds (default `performance.now`; tests pass a fake one). */
  monotonicNow?: () => number;
  /** Remove the backup once training ends normally (only the files the backup wrote). */
  deleteCheckpoint?: boolean;
  /**
   * When the fit is interrupted (`model.interrupt()`, `interruptOnSignals`), back up the
   * exact batch position before it stops, whatever `saveFreq` says. Default true.
   */
  saveOnInterrupt?: boolean;
  /**
   * When the fit fails with an error (thrown by a callback, the data, validation), back up the
   * last position where the state is whole — never from inside a step, which may be
   * half-applied — and record the error in the manifest. Default true.
   */
  saveOnError?: boolean;
  /** Keep the previous backup beside the latest, so a damaged latest one falls back to it (default false, as Keras). */
  doubleCheckpoint?: boolean;
  /** Where the backups go (default: the default storage). */
  storage?: Storage;
  /** Take over the backup directory's lock even from a holder that looks alive (see CheckpointManager). */
  takeOverLock?: boolean;
  /**
   * Log `checkpoint_overhead` at each epoch end: the share of wall time since the previous
   * epoch's logs that saves blocked training. Off by default: a wall-clock value in the
   * history differs between a resumed run and an uninterrupted one.
   */
  logOverhead?: boolean;
  /** Record each file's SHA-256 in the manifest and check it before a restore or load trusts the file (see CheckpointManager). */
  hash?: 'sha256';
  /** What a backup of NaN or infinite weights does (default 'warn'). */
  onNonFinite?: 'warn' | 'error' | 'allow';
  /** Write backups in the background (the next one waits for the last). */
  async?: boolean;
  /** With `async`: a model of more tensor bytes than this is backed up in the foreground, without a copy (see CheckpointManager). */
  maxSnapshotBytes?: number;
  /** A failed backup stops training ('raise', the default) or is reported and skipped ('warn'). */
  onSaveError?: 'raise' | 'warn';
  /**
   * In a page: when it is hidden (another tab, a minimized window, a closing tab) or being
   * unloaded, back up at the end of the batch in flight, whatever `saveFreq` says. Default true
   * where there is a page; nothing elsewhere.
   */
  saveOnHidden?: boolean;
  /** In a page: after that backup, wait to train on until the page is visible again. Default false. */
  pauseWhenHidden?: boolean;
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
  readonly saveFreq: 'epoch' | number | TimeInterval;
  readonly deleteCheckpoint: boolean;
  /** With a time saveFreq: when the next backup is due (made at train begin). */
  private timer: SaveTimer | null = null;
  private readonly timeMs: number | null;
  private manager: CheckpointManager | null = null;
  private progress: Progress = { epoch: 0, batch: 0, totals: null, batchesSeen: 0 };
  /** The position after the last batch trained (progress is the last one backed up). */
  private trained = { epoch: 0, batch: 0 };
  /** When the page was hidden (saveOnHidden), until the backup that answers it. */
  private hiddenSince: { why: 'hidden' | 'pagehide'; at: number } | null = null;
  private stopWatchingPage: (() => void) | null = null;
  /** Milliseconds from the page being hidden to its backup being durable, the last time (saveOnHidden). */
  lastHiddenBackupMs: number | null = null;
  /** The path restored from on train begin, if any. */
  restoredFrom: string | null = null;
  override readonly logsCheckpointOverhead: boolean;

  constructor(private readonly options: BackupAndRestoreOptions) {
    super();
    if (typeof options?.backupDir !== 'string' || options.backupDir === '') {
      throw new ArgumentError(
        `BackupAndRestore: backupDir must be a non-empty directory path, got ${JSON.stringify(options?.backupDir)}`,
      );
    }
    this.backupDir = options.backupDir;
    this.saveFreq = options.saveFreq ?? 'epoch';
    this.timeMs = checkSaveFreq('BackupAndRestore', this.saveFreq, options.overheadBudget);
    this.deleteCheckpoint = options.deleteCheckpoint ?? true;
    this.logsCheckpointOverhead = options.logOverhead ?? false;
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
      maxSnapshotBytes: o.maxSnapshotBytes,
      warn: o.warn,
      storage: o.storage,
      takeOverLock: o.takeOverLock,
      onNonFinite: o.onNonFinite,
      hash: o.hash,
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
    const page = platform().page;
    if (page && (this.options.saveOnHidden ?? true)) {
      this.stopWatchingPage?.();
      this.stopWatchingPage = page.onHidden((why) => {
        this.hiddenSince ??= { why, at: performance.now() };
      });
    }
    if (this.timeMs !== null)
      this.timer = new SaveTimer(this.timeMs, this.options.overheadBudget, this.options.monotonicNow);
  }

  override async onBatchEnd(batch: number): Promise<void> {
    this.progress.batchesSeen++;
    this.trained = { epoch: this.fitContext('onBatchEnd').epoch, batch: batch + 1 };
    if (this.hiddenSince) {
      const { why, at } = this.hiddenSince;
      this.hiddenSince = null;
      await this.backupHere(`page ${why}`);
      this.lastHiddenBackupMs = performance.now() - at;
      const page = platform().page;
      if (this.options.pauseWhenHidden && page?.hidden()) await page.whenVisible();
      return;
    }
    if (this.timer !== null) {
      if (this.timer.due()) await this.timer.time(() => this.backupHere());
      return;
    }
    if (this.saveFreq === 'epoch' || this.progress.batchesSeen % (this.saveFreq as number) !== 0) return;
    await this.backupHere();
  }

  override async onEpochEnd(epoch: number): Promise<void> {
    this.trained = { epoch: epoch + 1, batch: 0 };
    if (this.saveFreq !== 'epoch') return;
    await this.backupHere();
  }

  /** Backs up the position after the last batch trained (mid-epoch: with the epoch's running totals). */
  private async backupHere(reason?: string): Promise<void> {
    const context = this.fitContext('a backup');
    const { epoch, batch } = this.trained;
    this.progress = {
      epoch,
      batch,
      totals: batch > 0 ? structuredClone(context.totals) : null,
      batchesSeen: this.progress.batchesSeen,
      stepsDone: context.stepsDone,
    };
    await this.backup(context.stepsDone, reason);
  }

  /** The running fit's context: a backup needs to know where the fit is. */
  private fitContext(where: string) {
    if (this.context === null)
      throw new ArgumentError(
        `BackupAndRestore: ${where} outside a fit (it needs the fit's position: model.fit sets it)`,
      );
    return this.context;
  }

  private async backup(step: number, reason?: string): Promise<void> {
    const started = performance.now();
    try {
      await this.manager!.save({ step, epoch: this.progress.epoch, force: true, reason });
      if (this.context) this.context.checkpointMs += performance.now() - started;
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
    this.unwatchPage();
    const manager = this.manager;
    this.manager = null;
    const cleanup = this.deleteCheckpoint ? manager?.deleteAll() : manager?.close();
    await cleanup?.catch((e: Error) =>
      this.warnOf(`training finished, but cleaning up the backup in ${this.backupDir} failed: ${e.message}`),
    );
  }

  /**
   * A failed fit keeps its backup (that is the point) but frees the directory's lock. An
   * interrupted one first backs up the batch it stopped at, unless that is the last backup;
   * one that failed with an error backs up the last position where its state was whole.
   */
  override async onTrainAbort(error: unknown): Promise<void> {
    this.unwatchPage();
    const manager = this.manager;
    if (manager === null) return;
    const interrupted = error instanceof TrainingInterruptedError;
    const wanted = interrupted ? (this.options.saveOnInterrupt ?? true) : (this.options.saveOnError ?? true);
    // An interruption stops at a batch boundary; an error, wherever it was thrown: inside a
    // step nothing is saved, before training (a refused lock, a callback's onTrainBegin) nothing needs to be.
    const inStep = !interrupted && this.context?.stepInFlight === true;
    const at = interrupted ? this.trained : inStep ? null : (this.context?.consistentAt ?? null);
    if (wanted && inStep)
      this.warnOf(
        `training failed inside a step (${(error as Error)?.message}); its state may be half-applied, so the last backup stands`,
      );
    if (wanted && at) {
      const unsaved = at.epoch !== this.progress.epoch || at.batch !== this.progress.batch;
      this.trained = { ...at };
      const reason = interrupted ? undefined : `error: ${String((error as Error)?.message ?? error)}`;
      if (unsaved)
        await this.backupHere(reason).catch((e: Error) =>
          this.warnOf(`the backup at the ${interrupted ? 'interruption' : 'error'} failed: ${e.message}`),
        );
    }
    this.manager = null;
    await manager.close().catch((e: Error) => this.warnOf(`closing the backup failed: ${e.message}`));
  }

  private unwatchPage(): void {
    this.stopWatchingPage?.();
    this.stopWatchingPage = null;
    this.hiddenSince = null;
  }

  private warnOf(message: string): void {
    (this.options.warn ?? ((m) => console.warn(`waypoint: ${m}`)))(message);
  }
}
