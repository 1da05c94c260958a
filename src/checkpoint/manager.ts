/**
 * CheckpointManager, as tf.train.CheckpointManager: numbered checkpoints in one directory,
 * a manifest (written atomically) that records each one, and retention policies that
 * decide which files stay. The manifest, not file times, says which checkpoint is latest.
 */
import { checkSha256, hashingWrites } from './hash.js';
import { sha256 } from './sha256.js';
import { SaveTimer, type TimeInterval, checkOverheadBudget, intervalMs } from './save-timer.js';
import { dirname, join, normalize } from '../paths.js';
import { ArgumentError } from '../errors.js';
import { yieldToEventLoop } from '../event-loop.js';
import type { Checkpoint } from './checkpoint.js';
import { CheckpointError } from '../state/errors.js';
import { WptReader } from './format/reader.js';
import type { WriteResult } from './format/writer.js';
import { type Storage, type UploadStatus, getDefaultStorage, readFileWithVersion } from '../storage/storage.js';
import { TEMP_SUFFIX } from '../storage/temp-names.js';
import type { FileKind } from './layout/format.js';
import type { TransferOptions } from './layout/transfer.js';
import { type HeldLock, LOCK_NAME, acquireLock } from './lock.js';
import { osError } from '../storage/os-errors.js';
import { isTemporaryOf, ownerTag, sweep } from './retention.js';
import {
  type Manifest,
  type ManifestEntry,
  type RetentionPolicy,
  MANIFEST_NAME,
  emptyManifest,
  isNumberedFile,
  parseManifest,
  writeManifestFile,
} from './manifest.js';

import type { BestOf } from './retention.js';
export type { BestOf } from './retention.js';
export type { Manifest, ManifestEntry, RetentionPolicy } from './manifest.js';
export { MANIFEST_NAME, latestCheckpoint } from './manifest.js';

export interface CheckpointManagerOptions extends Partial<RetentionPolicy> {
  checkpointName?: string;
  /** With `stepCounter`: save only when the step advanced this much since the last save. */
  checkpointInterval?: number;
  stepCounter?: { value: number };
  /** With checkpointInterval: the step of the last save before this manager (default none: the first save is never too soon). */
  lastCheckpointStep?: number;
  /**
   * Save only once this much wall-clock time has passed since the last save ended (or since
   * the manager was made): `{ minutes }` or `{ seconds }`; `save({ force: true })` saves anyway.
   */
  interval?: TimeInterval;
  /** With `interval`: the share of the time saves may block the caller (e.g. 0.01); the interval stretches as far as that needs. */
  overheadBudget?: number;
  /**
   * Record each file's SHA-256 in the manifest (taken as the file is written, not in a
   * second pass), and check it before a restore trusts the file: a file whose bytes differ
   * (substituted, with valid checksums of its own) is refused and the restore falls back.
   */
  hash?: 'sha256';
  /** Write in the background (`save` returns after the state snapshot; see `flush`). */
  async?: boolean;
  storage?: Storage;
  warn?: (message: string) => void;
  /**
   * The wall clock for manifest times and keepEveryNHours (tests pass a fake one). The manager
   * never lets its time go backwards: between saves it advances by at least the monotonic
   * clock's elapsed time, so a wall clock stepped back (an NTP step, a VM migration) during a
   * run neither stops keepEveryNHours nor dates a newer checkpoint before an older one.
   */
  now?: () => Date;
  /** The monotonic clock, in milliseconds (default `performance.now`; tests pass a fake one). */
  monotonicNow?: () => number;
  /**
   * With `async`: how many background saves may be pending at once (default 2). A save issued
   * while that many are pending waits until the oldest is durable (backpressure): memory holds
   * at most this many snapshots, and the disk is never left further behind.
   */
  maxPendingSaves?: number;
  /**
   * With `async`: the most bytes of tensors a background save may copy (see
   * CheckpointWriteOptions.maxSnapshotBytes). Memory holds up to `maxPendingSaves` snapshots of
   * the state's size; a state larger than this is saved from the live arrays, in the foreground.
   */
  maxSnapshotBytes?: number;
  /**
   * Take the directory's lock even from a holder that looks alive. Only for when you know it
   * is not (a host that died with a shared filesystem mounted); its next save fails with LOCKED.
   */
  takeOverLock?: boolean;
  /** How long the lock's heartbeat stays valid where the holder's liveness cannot be checked directly (default 60 s). */
  lockLeaseMs?: number;
  /** What a save of NaN or infinite values does (see WriteOptions.onNonFinite). */
  onNonFinite?: 'warn' | 'error' | 'allow';
  /**
   * The manifest's name (default `manifest.json`), so that managers of different files can
   * share a directory; each then has its own lock, `<manifest name without .json>.lock`.
   */
  manifestName?: string;
  /**
   * Which names in the directory are this manager's checkpoints (default: `{checkpointName}-{N}.wpt`),
   * for managers whose saves name their files (`SaveOptions.file`, as ModelCheckpoint's templates).
   */
  isCheckpointFile?: (name: string) => boolean;
  /** The kind its files declare (default 'checkpoint'; ModelCheckpoint writes 'model' or 'weights' files). */
  fileKind?: FileKind;
}

export interface SaveOptions extends TransferOptions {
  /** The checkpoint's number (TensorFlow's checkpoint_number); default the checkpoint's save counter. */
  step?: number;
  epoch?: number;
  metrics?: Record<string, number>;
  /**
   * Save even if `checkpointInterval` says it is too soon (TensorFlow's check_interval=False);
   * never twice at a step already saved.
   */
  force?: boolean;
  /** The file to write, relative to the directory (it may name a sub-directory); default `{checkpointName}-{step}.wpt`. */
  file?: string;
  /** Why this save was made, when not by schedule (a backup at an error): recorded in the manifest. */
  reason?: string;
}

export class CheckpointManager {
  readonly directory: string;
  readonly checkpointName: string;
  /** Resolves once leftovers are cleaned and the manifest is loaded; every async method awaits it. */
  readonly ready: Promise<void>;
  private manifest: Manifest | null = null;
  /** The manifest's version as last read or written (an object store's ETag): the condition of the next commit. */
  private manifestVersion: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly storage: Storage;
  private readonly warn: (message: string) => void;
  private lock: HeldLock | null = null;
  private readonly manifestName: string;
  private readonly lockName: string;
  /** The step counter's value at the last save (or restore), as TensorFlow's `_last_checkpoint_step`. */
  private lastStep: number | null;
  /** With `interval`: when the next save is due. */
  private readonly timer: SaveTimer | null = null;
  /** Tags this manager's files (their metadata's `owner`) and temporary files: it adopts and sweeps only its own. */
  private readonly owner: string;
  /** The manager's time: the wall clock, never going backwards (see `now` in the options). */
  private readonly clock: () => number;
  /** Background saves not yet durable and recorded, oldest first (see maxPendingSaves). */
  private pending: Array<Promise<void>> = [];
  /** Failures of background saves (the write, or recording it) not yet reported by `flush`. */
  private backgroundFailures: unknown[] = [];

  constructor(
    readonly checkpoint: Checkpoint,
    directory: string,
    private readonly options: CheckpointManagerOptions = {},
  ) {
    if (typeof directory !== 'string' || directory === '')
      throw new ArgumentError(
        `CheckpointManager: directory must be a non-empty path, got ${JSON.stringify(directory)}`,
      );
    this.directory = directory;
    this.checkpointName = options.checkpointName ?? 'ckpt';
    if (!/^[\w.-]+$/.test(this.checkpointName))
      throw new ArgumentError(
        `CheckpointManager: checkpointName '${this.checkpointName}' must be letters, digits, '_', '-' or '.'`,
      );
    validateOptions(options);
    this.lastStep = options.lastCheckpointStep ?? null;
    this.manifestName = options.manifestName ?? MANIFEST_NAME;
    this.lockName =
      this.manifestName === MANIFEST_NAME ? LOCK_NAME : `${this.manifestName.replace(/\.json$/, '')}.lock`;
    this.storage = options.storage ?? getDefaultStorage();
    this.warn = options.warn ?? ((m) => console.warn(`waypoint: ${m}`));
    this.owner = ownerTag(`${this.manifestName}:${this.checkpointName}`);
    this.clock = steadyClock(
      () => (options.now?.() ?? new Date()).getTime(),
      options.monotonicNow ?? (() => performance.now()),
      this.warn,
    );
    if (options.interval !== undefined)
      this.timer = new SaveTimer(
        intervalMs('CheckpointManager', 'interval', options.interval),
        options.overheadBudget,
        options.monotonicNow,
      );
    this.ready = this.load();
    this.ready.catch(() => undefined); // surfaced by the first awaiting method
  }

  private get loaded(): Manifest {
    if (this.manifest === null)
      throw new ArgumentError('CheckpointManager: not loaded yet — await manager.ready (or any async method) first');
    return this.manifest;
  }

  /** Manifest entries of the managed checkpoints, oldest first. */
  get entries(): readonly ManifestEntry[] {
    return this.loaded.checkpoints;
  }

  /**
   * Paths of the managed checkpoints, oldest first. As in TensorFlow, checkpoints kept for
   * good by keepEveryNHours are on disk but not listed (see `preserved`).
   */
  get checkpoints(): string[] {
    return this.loaded.checkpoints.map((e) => join(this.directory, e.file));
  }

  /** The metric retention ranks by (`bestOf`, given or recorded in the manifest), or null. */
  get bestOf(): BestOf | null {
    return this.loaded.policy.bestOf;
  }

  /** Paths of the checkpoints kept for good, oldest first. */
  get preserved(): string[] {
    return (this.loaded.preserved ?? []).map((e) => join(this.directory, e.file));
  }

  get latestCheckpoint(): string | null {
    const m = this.loaded;
    const latest = m.latest ?? m.checkpoints.at(-1)?.file;
    return latest ? join(this.directory, latest) : null;
  }

  /** The step counter's value at the last save or restore (with checkpointInterval), else null. */
  get lastCheckpointStep(): number | null {
    return this.lastStep;
  }

  private policy(saved?: RetentionPolicy): RetentionPolicy {
    const o = this.options;
    const explicit =
      o.maxToKeep !== undefined ||
      o.keepEveryNHours !== undefined ||
      o.bestOf !== undefined ||
      o.maxBytes !== undefined;
    if (!explicit && saved) return saved; // a restarted manager applies the rules recorded before
    return {
      maxToKeep: o.maxToKeep === undefined ? 5 : o.maxToKeep,
      keepEveryNHours: o.keepEveryNHours ?? null,
      bestOf: o.bestOf ?? null,
      maxBytes: o.maxBytes ?? null,
    };
  }

  private async load(): Promise<void> {
    await this.storage.mkdirp(this.directory).catch((cause) => {
      throw osError('cannot create the checkpoint directory', this.directory, cause);
    });
    // Only the lock holder may clean up: another writer's temporary file is not debris.
    this.lock = await acquireLock(this.storage, this.directory, {
      warn: this.warn,
      takeOver: this.options.takeOverLock,
      leaseMs: this.options.lockLeaseMs,
      name: this.lockName,
      owner: this.owner,
    });
    // An object store's uploads that a killed process left unfinished are this manager's debris too.
    const unfinished = await this.storage.abortIncompleteWrites?.(
      this.directory,
      (name) => name === this.manifestName || this.isCheckpointFile(name),
    );
    if (unfinished?.length)
      this.warn(
        `aborted ${unfinished.length} unfinished upload(s) left in ${this.directory}: ${unfinished.join(', ')}`,
      );
    const names = (await this.storage.list(this.directory)).filter((n) => n !== this.lockName);
    for (const name of names) if (this.isOwnTemporary(name)) await this.storage.remove(join(this.directory, name));
    const manifestPath = join(this.directory, this.manifestName);
    const read = await readFileWithVersion(this.storage, manifestPath);
    const bytes = read?.bytes ?? null;
    this.manifestVersion = read?.version;
    let manifest: Manifest | null = null;
    try {
      const parsed = bytes && parseManifest(bytes);
      if (parsed && parsed.refused.length) {
        this.warn(
          `${manifestPath} names paths outside ${this.directory}, ignored (never read or deleted): ${parsed.refused.slice(0, 5).join(', ')}` +
            `${parsed.refused.length > 5 ? ` and ${parsed.refused.length - 5} more` : ''}`,
        );
      }
      manifest = parsed ? parsed.manifest : null;
    } catch (e) {
      this.warn(`${manifestPath} is unreadable (${(e as Error).message}); rebuilding it from the checkpoint files`);
    }
    const now = this.now();
    this.manifest = manifest ?? emptyManifest(this.checkpointName, this.policy(), now);
    this.setAsideUnmanaged(this.manifest);
    this.adoptTimes(this.manifest, now);
    const policy = this.policy(manifest?.policy);
    const policyChanged = JSON.stringify(policy) !== JSON.stringify(manifest?.policy);
    this.manifest.policy = policy;
    const removalsLeft = (this.manifest.removing ?? []).length > 0;
    await this.removePending();
    // Listed again: the removals just made (a crash interrupted them) are not orphans.
    const remaining = removalsLeft
      ? (await this.storage.list(this.directory)).filter((n) => n !== this.lockName)
      : names;
    // Record the policy at once, so a manager restarted without options applies the same rules.
    if (
      !(await this.adoptOrphans(remaining.filter((n) => !n.endsWith(TEMP_SUFFIX)))) &&
      (policyChanged || removalsLeft)
    )
      await this.writeManifestSoon();
  }

  private now(): number {
    return this.clock();
  }

  /**
   * Entries of other names than this manager's (recorded by `Checkpoint.save` in manifests
   * before it listed them as unmanaged) are not its to manage: they stay listed, and
   * retention never deletes them.
   */
  private setAsideUnmanaged(m: Manifest): void {
    const foreign = (e: ManifestEntry) => dirname(e.file) === '.' && !this.isCheckpointFile(e.file);
    const unmanaged = [...(m.unmanaged ?? []), ...m.checkpoints.filter(foreign)];
    m.checkpoints = m.checkpoints.filter((e) => !foreign(e));
    if (unmanaged.length) m.unmanaged = unmanaged;
  }

  /**
   * TensorFlow's bookkeeping on load: preserved entries of older manifests move to the
   * preserved list; a clock behind the last preserved time (VM migration, an NTP step) is
   * reported and every existing checkpoint is kept for good, so none is deleted by mistake.
   */
  private adoptTimes(m: Manifest, now: number): void {
    m.preserved = [...(m.preserved ?? []), ...m.checkpoints.filter((e) => e.preserved)];
    m.checkpoints = m.checkpoints.filter((e) => !e.preserved);
    for (const e of m.preserved) delete e.preserved;
    let last = m.lastPreservedTime === null ? 0 : Date.parse(m.lastPreservedTime); // a manifest that never preserved: older than everything
    if (now < last) {
      this.warn(
        `the clock is ${((last - now) / 1000).toFixed(1)} s behind the last preserved checkpoint time (${new Date(last).toISOString()}): ` +
          'keeping every existing checkpoint for good',
      );
      last = now;
    }
    m.lastPreservedTime = new Date(last).toISOString();
    const kept = m.checkpoints.filter((e) => Math.min(Date.parse(e.time), now) <= last);
    m.preserved.push(...kept);
    m.checkpoints = m.checkpoints.filter((e) => !kept.includes(e));
  }

  /** Whether a name in the directory is one of this manager's checkpoints (by default `{checkpointName}-{N}.wpt`). */
  private isCheckpointFile(name: string): boolean {
    if (this.options.isCheckpointFile) return this.options.isCheckpointFile(name);
    return isNumberedFile(name, this.checkpointName);
  }

  /**
   * A temporary file of one of this manager's writes (a checkpoint, the manifest, the lock's
   * heartbeat): tagged with its owner tag, or, from before writes were tagged, named after
   * one of its files by the default naming (a template's pattern may match another's files).
   */
  private isOwnTemporary(name: string): boolean {
    return isTemporaryOf(
      name,
      this.owner,
      (target) =>
        target === this.manifestName ||
        target === this.lockName ||
        (this.options.isCheckpointFile === undefined && this.isCheckpointFile(target)),
    );
  }

  /** Whether a verified file's metadata says this manager wrote it (files from before the tag: the default naming only). */
  private isOwnFile(metadata: { owner?: unknown }): boolean {
    return (
      metadata.owner === this.owner || (metadata.owner === undefined && this.options.isCheckpointFile === undefined)
    );
  }

  /** Which of the entries' files exist: those in sub-directories are looked up there. */
  private async existing(entries: ManifestEntry[], names: string[]): Promise<Set<string>> {
    const found = new Set(names);
    for (const dir of new Set(entries.map((e) => dirname(e.file)).filter((d) => d !== '.'))) {
      for (const name of await this.storage.list(join(this.directory, dir)).catch(() => [] as string[]))
        found.add(join(dir, name));
    }
    return found;
  }

  /**
   * Checkpoint files the manifest does not list — written just before a crash, or meant to be
   * deleted just before one — are taken back in if they verify and their metadata says this
   * manager wrote them. Anything else is left as it is: a file this manager did not record
   * and cannot prove it wrote is not its to delete (a damaged one is reported).
   */
  private async adoptOrphans(names: string[]): Promise<boolean> {
    const m = this.loaded;
    const listed = new Set([
      ...[...m.checkpoints, ...(m.preserved ?? []), ...(m.unmanaged ?? [])].map((e) => e.file),
      ...(m.removing ?? []),
    ]);
    let changed = false;
    for (const name of names) {
      if (!this.isCheckpointFile(name) || listed.has(name)) continue;
      const path = join(this.directory, name);
      const found = await this.describe(path, name).then(
        (entry) => entry,
        (e: Error) => e,
      );
      if (found instanceof Error) {
        this.warn(`leaving ${path} as it is: not in the manifest and it does not verify (${found.message})`);
      } else if (found.owner) {
        m.checkpoints.push(found.entry);
        changed = true;
      }
    }
    const present = await this.existing([...m.checkpoints, ...(m.preserved ?? []), ...(m.unmanaged ?? [])], names);
    const lengths = [m.checkpoints.length, m.preserved?.length, m.unmanaged?.length].join();
    m.checkpoints = m.checkpoints.filter((e) => present.has(e.file));
    m.preserved = (m.preserved ?? []).filter((e) => present.has(e.file));
    if (m.unmanaged) m.unmanaged = m.unmanaged.filter((e) => present.has(e.file));
    if (m.latest !== undefined && !present.has(m.latest)) delete m.latest;
    if (changed) m.checkpoints.sort((a, b) => a.step - b.step);
    if (changed || lengths !== [m.checkpoints.length, m.preserved.length, m.unmanaged?.length].join()) {
      await this.writeManifestSoon();
      return true;
    }
    return false;
  }

  /** Verifies a checkpoint file and reads its manifest entry from its own header metadata. */
  private async describe(path: string, file: string): Promise<{ entry: ManifestEntry; owner: boolean }> {
    const reader = await WptReader.open(path, this.storage);
    try {
      const problems = await reader.verify();
      if (problems.length) throw problems[0];
      const meta = reader.header.metadata as {
        step?: number;
        epoch?: number;
        metrics?: Record<string, number>;
        owner?: string;
      };
      const entry = {
        file,
        step: meta.step ?? Number(/-(\d+)\.wpt$/.exec(file)?.[1] ?? 0),
        epoch: meta.epoch,
        metrics: meta.metrics ?? {},
        time: reader.header.created,
        size: reader.size,
        headerCrc32: reader.headerCrc32,
      };
      return { entry, owner: this.isOwnFile(meta) };
    } finally {
      await reader.close();
    }
  }

  private async writeManifest(): Promise<void> {
    const conditional = this.storage.createAtomic !== undefined && (await this.storage.conditionalWrites?.());
    const condition = conditional
      ? this.manifestVersion
        ? { ifVersion: this.manifestVersion }
        : { ifAbsent: true }
      : undefined;
    this.manifestVersion = await writeManifestFile(
      this.storage,
      join(this.directory, this.manifestName),
      this.loaded,
      'writing the manifest failed',
      this.owner,
      condition,
    );
  }

  /** At start, the manifest is rewritten only to record things the next save records too: a failure there is a warning. */
  private async writeManifestSoon(): Promise<void> {
    await this.writeManifest().catch((e: Error) => this.warn(`${e.message}; it will be written with the next save`));
  }

  /**
   * Writes checkpoint `{checkpointName}-{step}.wpt` (or `options.file`), records it, and applies retention.
   * Returns its path, or null when `checkpointInterval` says it is too soon.
   */
  async save(options: SaveOptions = {}): Promise<string | null> {
    const timer = this.timer;
    if (timer === null) return this.saveNow(options);
    await this.ready;
    if (!options.force && !timer.due()) return null;
    return timer.time(() => this.saveNow(options));
  }

  private async saveNow(options: SaveOptions): Promise<string | null> {
    await this.ready;
    // A loop that awaits only resolved promises never lets the event loop run, and so never
    // lets a background save's I/O complete: each call gives pending saves a turn.
    if (this.pending.length) await yieldToEventLoop();
    const m = this.loaded;
    const interval = this.options.checkpointInterval;
    if (interval !== undefined) {
      const current = this.options.stepCounter!.value;
      if (
        this.lastStep !== null &&
        (current === this.lastStep || (!options.force && current < this.lastStep + interval))
      )
        return null;
      this.lastStep = current;
    }
    // As TensorFlow: the counter goes up with every save, also one with an explicit number,
    // and is saved in the checkpoint, so numbering continues after a restore.
    const counter = this.checkpoint.saveCounter;
    counter.value += 1;
    const step = options.step ?? counter.value;
    if (!Number.isSafeInteger(step) || step < 0)
      throw new ArgumentError(`CheckpointManager.save: step must be a non-negative integer, got ${step}`);
    const file = options.file === undefined ? `${this.checkpointName}-${step}.wpt` : this.checkedFile(options.file);
    const path = join(this.directory, file);
    await this.lock!.verify(); // never write into a directory another process took over
    if (dirname(file) !== '.')
      await this.storage.mkdirp(dirname(path)).catch((cause) => {
        throw osError('cannot create the checkpoint directory', dirname(path), cause);
      });
    if (m.removing?.includes(file)) m.removing = m.removing.filter((f) => f !== file); // written anew: no longer to delete
    const metadata = {
      step,
      ...(options.epoch !== undefined ? { epoch: options.epoch } : {}),
      metrics: options.metrics ?? {},
      owner: this.owner,
    };
    const hasher = this.options.hash === 'sha256' ? sha256() : null;
    const writeOptions = {
      metadata,
      storage: hasher ? hashingWrites(this.storage, hasher) : this.storage,
      onNonFinite: this.options.onNonFinite,
      warn: this.warn,
      kind: this.options.fileKind,
      owner: this.owner,
      onProgress: options.onProgress,
      signal: options.signal,
    };
    const clock = this.options.monotonicNow ?? (() => performance.now());
    const started = clock();
    let blockedMs: number | null = null;
    const record = async ({ bytes: size, headerCrc32: crc, costs }: WriteResult) => {
      const durableAfterMs = clock() - started;
      const entry: ManifestEntry = {
        file,
        step,
        epoch: options.epoch,
        metrics: options.metrics ?? {},
        time: new Date(this.now()).toISOString(),
        size,
        headerCrc32: crc,
        cost: {
          blockedMs: round(blockedMs ?? durableAfterMs),
          encodeMs: round(costs.encodeMs),
          writeMs: round(costs.writeMs),
          syncMs: round(costs.syncMs),
          durableAfterMs: round(durableAfterMs),
          bytes: costs.rawBytes,
          storedBytes: size,
        },
        ...(options.reason === undefined ? {} : { reason: options.reason }),
        ...(hasher ? { sha256: hasher.hex() } : {}),
      };
      // An overwritten checkpoint goes to the end of the queue, as in TensorFlow.
      m.checkpoints = m.checkpoints.filter((e) => e.file !== file);
      m.preserved = (m.preserved ?? []).filter((e) => e.file !== file);
      m.checkpoints.push(entry);
      m.latest = file;
      await this.applyRetention(entry);
    };
    if (this.options.async) {
      await this.makeRoom();
      const pending = await this.checkpoint.writeInBackground(path, {
        ...writeOptions,
        maxSnapshotBytes: this.options.maxSnapshotBytes,
      });
      const done = this.enqueue(async () => record(await pending.durable));
      const settled = done
        .catch((e: unknown) => {
          this.backgroundFailures.push(e);
        })
        .finally(() => {
          this.pending = this.pending.filter((p) => p !== settled);
        });
      this.pending.push(settled);
      blockedMs = clock() - started;
      return path;
    }
    await this.enqueue(async () => record(await this.checkpoint.write(path, writeOptions)));
    return path;
  }

  /** Backpressure: waits while `maxPendingSaves` background saves are not yet durable. */
  private async makeRoom(): Promise<void> {
    const limit = this.options.maxPendingSaves ?? 2;
    while (this.pending.length >= limit) await this.pending[0];
  }

  /** A file named by a save, relative to the directory and inside it. */
  private checkedFile(file: string): string {
    const relative = normalize(file);
    if (
      file === '' ||
      relative.startsWith('..') ||
      relative.startsWith('/') ||
      relative === this.manifestName ||
      relative === this.lockName
    ) {
      throw new ArgumentError(
        `CheckpointManager.save: file must name a new file inside ${this.directory}, got '${file}'`,
      );
    }
    return relative;
  }

  /** Serializes manifest updates: saves land in order, one manifest write at a time. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Waits for background saves and their manifest updates; rejects with the first failure (once). */
  async flush(): Promise<void> {
    await this.ready;
    await Promise.all(this.pending);
    const failure = this.backgroundFailures[0];
    this.backgroundFailures = [];
    if (failure !== undefined) throw failure;
    await this.checkpoint.flush();
    await this.queue;
  }

  /** Waits for pending saves, then releases the directory for another manager. */
  /** Where the copies to a remote tier stand, when the storage has one (TieredStorage). */
  get uploads(): UploadStatus | undefined {
    return this.storage.uploads;
  }

  async close(): Promise<void> {
    if (
      !(await this.ready.then(
        () => true,
        () => false,
      ))
    )
      return; // never opened: nothing to flush or release
    try {
      await this.flush();
      await this.storage.flush?.(); // a tiered storage's uploads: the remote tier complete before the lock goes
    } finally {
      const lock = this.lock;
      this.lock = null;
      await lock?.release();
    }
  }

  /**
   * Closes the manager and deletes every file it recorded — its checkpoints (kept and
   * preserved), the manifest, its temporary files, the lock — and nothing else: not a file
   * that merely matches its naming, not one `Checkpoint.save` recorded under another name
   * (then the manifest stays, listing them). The directory goes only if that leaves it empty.
   */
  async deleteAll(): Promise<void> {
    await this.ready;
    await this.flush().catch(() => undefined); // a failed background save is moot: its file goes too
    const m = this.loaded;
    const recorded = [...m.checkpoints, ...(m.preserved ?? [])].map((e) => e.file);
    for (const file of [...recorded, ...(m.removing ?? [])]) await this.storage.remove(join(this.directory, file));
    for (const name of await this.storage.list(this.directory))
      if (this.isOwnTemporary(name)) await this.storage.remove(join(this.directory, name));
    this.manifest = { ...m, checkpoints: [], preserved: [] };
    delete this.manifest.removing;
    if (m.unmanaged?.length) {
      if (m.latest !== undefined && !m.unmanaged.some((e) => e.file === m.latest)) delete this.manifest.latest;
      await this.writeManifest();
    } else {
      await this.storage.remove(join(this.directory, this.manifestName));
    }
    await this.close();
    if ((await this.storage.list(this.directory)).length === 0) await this.storage.removeEmptyDir?.(this.directory);
  }

  /**
   * Retention, after a save was recorded. The files it drops are recorded in the manifest
   * (`removing`) before they are deleted, and deleted even when that manifest write fails (a
   * full disk is when space matters most); a deletion that fails stays listed and is retried
   * at the next save or start. A crash between the two leaves files the next start deletes.
   */
  private async applyRetention(newest: ManifestEntry): Promise<void> {
    const m = this.loaded;
    const swept = sweep(m.checkpoints, newest, m.policy, Date.parse(m.lastPreservedTime!), (e) => Date.parse(e.time));
    m.checkpoints = swept.keep;
    m.preserved = [...(m.preserved ?? []), ...swept.preserve];
    m.lastPreservedTime = new Date(swept.lastPreserved).toISOString();
    if (swept.remove.length) m.removing = [...new Set([...(m.removing ?? []), ...swept.remove.map((e) => e.file)])];
    const written = await this.writeManifest().then(
      () => null,
      (e: unknown) => e,
    );
    await this.removePending();
    if (written !== null) throw written;
  }

  /** Deletes the files retention dropped; those that fail stay in `removing`, retried later. */
  private async removePending(): Promise<void> {
    const m = this.loaded;
    const left: string[] = [];
    for (const file of m.removing ?? []) {
      const path = join(this.directory, file);
      await this.storage.remove(path).catch((e: Error) => {
        left.push(file);
        this.warn(`could not delete ${path} (${e.message}); retrying at the next save`);
      });
    }
    if (left.length) m.removing = left;
    else delete m.removing;
  }

  /**
   * The newest checkpoint that verifies — the directory's latest (which `Checkpoint.save` may
   * have written), then the managed ones, newest first; damaged ones are reported through `warn`.
   */
  async latestVerified(): Promise<string | null> {
    await this.ready;
    const m = this.loaded;
    const files = [
      ...new Set([...(m.latest !== undefined ? [m.latest] : []), ...m.checkpoints.map((e) => e.file).reverse()]),
    ];
    for (const [i, file] of files.entries()) {
      const path = join(this.directory, file);
      try {
        await this.describe(path, file);
        const recorded = m.checkpoints.find((e) => e.file === file)?.sha256;
        if (recorded !== undefined) await checkSha256(this.storage, path, recorded);
        return path;
      } catch (e) {
        const reason = e instanceof CheckpointError ? e.message : String(e);
        const older =
          i + 1 < files.length
            ? `falling back to ${join(this.directory, files[i + 1])}`
            : 'no older checkpoint to fall back to';
        this.warn(`checkpoint ${path} is damaged (${reason}); ${older}`);
      }
    }
    return null;
  }

  /**
   * Restores the newest checkpoint that verifies, or runs `initialize` when there is none.
   * Returns the path restored. With checkpointInterval, the interval then counts from the
   * restored step counter; a file written before save counters were saved gives its number.
   * `onProgress` and `signal` follow the restore (Checkpoint.read).
   */
  async restoreOrInitialize(
    initialize?: () => void | Promise<void>,
    options: TransferOptions = {},
  ): Promise<string | null> {
    const path = await this.latestVerified();
    if (path === null) {
      await initialize?.();
      return null;
    }
    const report = await this.checkpoint.read(path, { ...options, storage: this.storage });
    if (report.saveCounter === null) this.checkpoint.saveCounter.value = Number(/-(\d+)\.wpt$/.exec(path)?.[1] ?? 0);
    if (this.options.checkpointInterval !== undefined) this.lastStep = this.options.stepCounter!.value;
    return path;
  }
}

/** Milliseconds to a hundredth, for the manifest. */
const round = (ms: number) => Math.round(ms * 100) / 100;

/** Refuses, by name and rule, every option that would otherwise be accepted and misbehave later. */
function validateOptions(o: CheckpointManagerOptions): void {
  const fail = (name: string, rule: string, value: unknown) => {
    throw new ArgumentError(
      `CheckpointManager: ${name} must be ${rule}, got ${typeof value === 'string' ? `'${value}'` : String(value)}`,
    );
  };
  if (o.maxToKeep !== undefined && o.maxToKeep !== null && !(Number.isInteger(o.maxToKeep) && o.maxToKeep >= 1))
    fail('maxToKeep', 'a positive integer or null', o.maxToKeep);
  const hours = o.keepEveryNHours;
  if (hours !== undefined && hours !== null && !(Number.isFinite(hours) && hours > 0))
    fail('keepEveryNHours', 'a positive number of hours or null', hours);
  if (o.maxBytes !== undefined && o.maxBytes !== null && !(Number.isFinite(o.maxBytes) && o.maxBytes > 0))
    fail('maxBytes', 'a positive number of bytes or null', o.maxBytes);
  if (
    o.checkpointInterval !== undefined &&
    !(Number.isSafeInteger(o.checkpointInterval) && o.checkpointInterval >= 0)
  ) {
    fail('checkpointInterval', 'a non-negative integer of steps', o.checkpointInterval);
  }
  checkOverheadBudget('CheckpointManager', o.overheadBudget);
  if (o.overheadBudget !== undefined && o.interval === undefined)
    fail('interval', 'given with overheadBudget (the budget stretches the interval)', o.interval);
  if (o.hash !== undefined && o.hash !== 'sha256') fail('hash', "'sha256'", o.hash);
  if (o.checkpointInterval !== undefined && o.stepCounter === undefined)
    fail('stepCounter', 'given with checkpointInterval (the interval counts its steps)', o.stepCounter);
  if (o.lastCheckpointStep !== undefined && !(Number.isSafeInteger(o.lastCheckpointStep) && o.lastCheckpointStep >= 0))
    fail('lastCheckpointStep', 'a non-negative integer step', o.lastCheckpointStep);
  if (o.lockLeaseMs !== undefined && !(Number.isFinite(o.lockLeaseMs) && o.lockLeaseMs >= 1000))
    fail('lockLeaseMs', 'at least 1000 (milliseconds)', o.lockLeaseMs);
  if (o.onNonFinite !== undefined && !['warn', 'error', 'allow'].includes(o.onNonFinite))
    fail('onNonFinite', "'warn', 'error' or 'allow'", o.onNonFinite);
  if (o.bestOf !== undefined && o.bestOf !== null) {
    const { monitor, mode, keep } = o.bestOf;
    if (typeof monitor !== 'string' || monitor === '') fail('bestOf.monitor', 'the name of a metric', monitor);
    if (mode !== undefined && !['min', 'max', 'auto'].includes(mode))
      fail('bestOf.mode', "'min', 'max' or 'auto'", mode);
    if (keep !== undefined && !(Number.isInteger(keep) && keep >= 1)) fail('bestOf.keep', 'a positive integer', keep);
  }
}

/**
 * A wall clock that never goes backwards: each reading is the later of the wall clock and the
 * last reading plus the monotonic time elapsed since. A wall clock stepped back is reported
 * once (per step) and ignored; one that jumps ahead (a resumed suspend) is followed.
 */
function steadyClock(wall: () => number, monotonic: () => number, warn: (message: string) => void): () => number {
  let last = wall(),
    lastMonotonic = monotonic(),
    warnedBehind = 0;
  return () => {
    const now = wall(),
      elapsed = monotonic() - lastMonotonic;
    const steady = last + Math.max(0, elapsed);
    lastMonotonic += elapsed;
    const behind = steady - now;
    if (behind > 60_000 && behind > 2 * warnedBehind) {
      warn(
        `the system clock went back ${(behind / 1000).toFixed(0)} s during the run: checkpoint times and keepEveryNHours follow the elapsed time instead`,
      );
      warnedBehind = behind;
    }
    last = Math.max(now, steady);
    return last;
  };
}
