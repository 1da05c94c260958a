/**
 * CheckpointManager, as tf.train.CheckpointManager: numbered checkpoints in one directory,
 * a manifest (written atomically) that records each one, and retention policies that
 * decide which files stay. The manifest, not file times, says which checkpoint is latest.
 */
import { basename, dirname, join, normalize } from '../paths.js';
import { ArgumentError } from '../errors.js';
import type { Checkpoint } from './checkpoint.js';
import { CheckpointError } from '../state/errors.js';
import { WptReader } from './format/reader.js';
import { type Storage, getDefaultStorage, readFileIfExists, writeFileAtomic } from './storage/storage.js';
import { TEMP_SUFFIX, type WriteResult, tempPathFor } from './format/writer.js';
import type { FileKind } from './format/format.js';
import { type HeldLock, LOCK_NAME, acquireLock } from './lock.js';
import { osError } from './storage/os-errors.js';
import { type BestOf, escapeRegExp, isTemporaryOf, sweep } from './retention.js';

export type { BestOf } from './retention.js';


export interface RetentionPolicy {
  /** Keep the newest N (default 5); null keeps every checkpoint. */
  maxToKeep: number | null;
  /** Also keep one checkpoint every N hours, for good. */
  keepEveryNHours: number | null;
  /** Also keep the best `keep` by a metric. */
  bestOf: BestOf | null;
  /** Delete the oldest (never the newest) until the files fit in this many bytes. */
  maxBytes: number | null;
}

export interface CheckpointManagerOptions extends Partial<RetentionPolicy> {
  checkpointName?: string;
  /** With `stepCounter`: save only when the step advanced this much since the last save. */
  checkpointInterval?: number;
  stepCounter?: { value: number };
  /** Write in the background (`save` returns after the state snapshot; see `flush`). */
  async?: boolean;
  storage?: Storage;
  warn?: (message: string) => void;
  /** The clock for manifest times and keepEveryNHours (tests pass a fake one). */
  now?: () => Date;
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

export interface ManifestEntry {
  file: string;
  step: number;
  epoch?: number;
  metrics: Record<string, number>;
  time: string;
  size: number;
  /** CRC-32 of the file's header (from its trailer): identifies this exact file. */
  headerCrc32: number;
  /** Set in manifests before 2026-12: kept for good by keepEveryNHours (now the `preserved` list). */
  preserved?: boolean;
}

export interface Manifest {
  format: 'waypoint-manifest';
  version: 1;
  checkpointName: string;
  policy: RetentionPolicy;
  /** As TensorFlow's last_preserved_timestamp: the manager's creation (minus 1 s) until keepEveryNHours preserves one. */
  lastPreservedTime: string | null;
  /** The managed checkpoints, oldest first: the ones retention may still delete. */
  checkpoints: ManifestEntry[];
  /** Checkpoints kept for good (keepEveryNHours, or a clock that went backwards): on disk, no longer managed. */
  preserved?: ManifestEntry[];
  /** The newest checkpoint written here (by the manager or `Checkpoint.save`), relative to the directory. */
  latest?: string;
}

export interface SaveOptions {
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
}

export const MANIFEST_NAME = 'manifest.json';


export class CheckpointManager {
  readonly directory: string;
  readonly checkpointName: string;
  /** Resolves once leftovers are cleaned and the manifest is loaded; every async method awaits it. */
  readonly ready: Promise<void>;
  private manifest: Manifest | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly storage: Storage;
  private readonly warn: (message: string) => void;
  private lock: HeldLock | null = null;
  private readonly manifestName: string;
  private readonly lockName: string;
  /** The step counter's value at the last save (or restore), as TensorFlow's `_last_checkpoint_step`. */
  private lastStep: number | null = null;

  constructor(readonly checkpoint: Checkpoint, directory: string, private readonly options: CheckpointManagerOptions = {}) {
    if (typeof directory !== 'string' || directory === '') throw new ArgumentError(`CheckpointManager: directory must be a non-empty path, got ${JSON.stringify(directory)}`);
    this.directory = directory;
    this.checkpointName = options.checkpointName ?? 'ckpt';
    if (!/^[\w.-]+$/.test(this.checkpointName)) throw new ArgumentError(`CheckpointManager: checkpointName '${this.checkpointName}' must be letters, digits, '_', '-' or '.'`);
    validateOptions(options);
    this.manifestName = options.manifestName ?? MANIFEST_NAME;
    this.lockName = this.manifestName === MANIFEST_NAME ? LOCK_NAME : `${this.manifestName.replace(/\.json$/, '')}.lock`;
    this.storage = options.storage ?? getDefaultStorage();
    this.warn = options.warn ?? ((m) => console.warn(`waypoint: ${m}`));
    this.ready = this.load();
    this.ready.catch(() => undefined); // surfaced by the first awaiting method
  }

  private get loaded(): Manifest {
    if (this.manifest === null) throw new ArgumentError('CheckpointManager: not loaded yet — await manager.ready (or any async method) first');
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
    const explicit = o.maxToKeep !== undefined || o.keepEveryNHours !== undefined || o.bestOf !== undefined || o.maxBytes !== undefined;
    if (!explicit && saved) return saved; // a restarted manager applies the rules recorded before
    return { maxToKeep: o.maxToKeep === undefined ? 5 : o.maxToKeep, keepEveryNHours: o.keepEveryNHours ?? null, bestOf: o.bestOf ?? null, maxBytes: o.maxBytes ?? null };
  }

  private async load(): Promise<void> {
    await this.storage.mkdirp(this.directory).catch((cause) => { throw osError('cannot create the checkpoint directory', this.directory, cause); });
    // Only the lock holder may clean up: another writer's temporary file is not debris.
    this.lock = await acquireLock(this.storage, this.directory, { warn: this.warn, takeOver: this.options.takeOverLock, leaseMs: this.options.lockLeaseMs, name: this.lockName });
    const names = (await this.storage.list(this.directory)).filter((n) => n !== this.lockName);
    for (const name of names) if (this.isOwnTemporary(name)) await this.storage.remove(join(this.directory, name));
    const bytes = await readFileIfExists(this.storage, join(this.directory, this.manifestName));
    let manifest: Manifest | null = null;
    try {
      manifest = bytes && parseManifest(bytes);
    } catch (e) {
      this.warn(`${join(this.directory, this.manifestName)} is unreadable (${(e as Error).message}); rebuilding it from the checkpoint files`);
    }
    const now = this.now();
    this.manifest = manifest ?? emptyManifest(this.checkpointName, this.policy(), now);
    this.adoptTimes(this.manifest, now);
    const policy = this.policy(manifest?.policy);
    const policyChanged = JSON.stringify(policy) !== JSON.stringify(manifest?.policy);
    this.manifest.policy = policy;
    // Record the policy at once, so a manager restarted without options applies the same rules.
    if (!(await this.adoptOrphans(names.filter((n) => !n.endsWith(TEMP_SUFFIX)))) && policyChanged) await this.writeManifestSoon();
  }

  private now(): number {
    return (this.options.now?.() ?? new Date()).getTime();
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
      this.warn(`the clock is ${((last - now) / 1000).toFixed(1)} s behind the last preserved checkpoint time (${new Date(last).toISOString()}): `
        + 'keeping every existing checkpoint for good');
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
    return new RegExp(`^${escapeRegExp(this.checkpointName)}-\\d+\\.wpt$`).test(name);
  }

  /** A temporary file of one of this manager's writes (a checkpoint, the manifest, the lock's heartbeat). */
  private isOwnTemporary(name: string): boolean {
    return isTemporaryOf(name, (target) => target === this.manifestName || target === this.lockName || this.isCheckpointFile(target));
  }

  /** Which of the entries' files exist: those in sub-directories are looked up there. */
  private async existing(entries: ManifestEntry[], names: string[]): Promise<Set<string>> {
    const found = new Set(names);
    for (const dir of new Set(entries.map((e) => dirname(e.file)).filter((d) => d !== '.'))) {
      for (const name of await this.storage.list(join(this.directory, dir)).catch(() => [] as string[])) found.add(join(dir, name));
    }
    return found;
  }

  /**
   * Checkpoint files the manifest does not list — written just before a crash, or meant to be
   * deleted just before one — are taken back in if they verify, and deleted if they do not.
   */
  private async adoptOrphans(names: string[]): Promise<boolean> {
    const m = this.loaded;
    const listed = new Set([...m.checkpoints, ...(m.preserved ?? [])].map((e) => e.file));
    let changed = false;
    for (const name of names) {
      if (!this.isCheckpointFile(name) || listed.has(name)) continue;
      const path = join(this.directory, name);
      const entry = await this.describe(path, name).catch(() => null);
      if (entry === null) {
        this.warn(`deleting ${path}: not in the manifest and it does not verify`);
        await this.storage.remove(path);
      } else {
        m.checkpoints.push(entry);
      }
      changed = true;
    }
    const present = await this.existing([...m.checkpoints, ...(m.preserved ?? [])], names);
    m.checkpoints = m.checkpoints.filter((e) => present.has(e.file));
    m.preserved = (m.preserved ?? []).filter((e) => present.has(e.file));
    if (m.latest !== undefined && !present.has(m.latest)) delete m.latest;
    if (changed) {
      m.checkpoints.sort((a, b) => a.step - b.step);
      await this.writeManifestSoon();
    }
    return changed;
  }

  /** Verifies a checkpoint file and reads its manifest entry from its own header metadata. */
  private async describe(path: string, file: string): Promise<ManifestEntry> {
    const reader = await WptReader.open(path, this.storage);
    try {
      const problems = await reader.verify();
      if (problems.length) throw problems[0];
      const meta = reader.header.metadata as { step?: number; epoch?: number; metrics?: Record<string, number> };
      return { file, step: meta.step ?? Number(/-(\d+)\.wpt$/.exec(file)?.[1] ?? 0), epoch: meta.epoch, metrics: meta.metrics ?? {},
        time: reader.header.created, size: reader.size, headerCrc32: reader.headerCrc32 };
    } finally {
      await reader.close();
    }
  }

  private async writeManifest(): Promise<void> {
    await writeManifestFile(this.storage, join(this.directory, this.manifestName), this.loaded, 'writing the manifest failed');
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
    await this.ready;
    const m = this.loaded;
    const interval = this.options.checkpointInterval;
    if (interval !== undefined) {
      const current = this.options.stepCounter!.value;
      if (this.lastStep !== null && (current === this.lastStep || (!options.force && current < this.lastStep + interval))) return null;
      this.lastStep = current;
    }
    // As TensorFlow: the counter goes up with every save, also one with an explicit number,
    // and is saved in the checkpoint, so numbering continues after a restore.
    const counter = this.checkpoint.saveCounter;
    counter.value += 1;
    const step = options.step ?? counter.value;
    if (!Number.isSafeInteger(step) || step < 0) throw new ArgumentError(`CheckpointManager.save: step must be a non-negative integer, got ${step}`);
    const file = options.file === undefined ? `${this.checkpointName}-${step}.wpt` : this.checkedFile(options.file);
    const path = join(this.directory, file);
    await this.lock!.verify(); // never write into a directory another process took over
    if (dirname(file) !== '.') await this.storage.mkdirp(dirname(path)).catch((cause) => { throw osError('cannot create the checkpoint directory', dirname(path), cause); });
    const metadata = { step, ...(options.epoch !== undefined ? { epoch: options.epoch } : {}), metrics: options.metrics ?? {} };
    const writeOptions = { metadata, storage: this.storage, onNonFinite: this.options.onNonFinite, warn: this.warn, kind: this.options.fileKind };
    const record = async (size: number, crc: number) => {
      const entry: ManifestEntry = { file, step, epoch: options.epoch, metrics: options.metrics ?? {}, time: new Date(this.now()).toISOString(), size, headerCrc32: crc };
      // An overwritten checkpoint goes to the end of the queue, as in TensorFlow.
      m.checkpoints = m.checkpoints.filter((e) => e.file !== file);
      m.preserved = (m.preserved ?? []).filter((e) => e.file !== file);
      m.checkpoints.push(entry);
      m.latest = file;
      await this.applyRetention(entry);
    };
    if (this.options.async) {
      const pending = await this.checkpoint.writeInBackground(path, writeOptions);
      this.enqueue(async () => {
        const result = await pending.durable;
        await record(result.bytes, result.headerCrc32);
      });
      return path;
    }
    await this.enqueue(async () => {
      const result = await this.checkpoint.write(path, writeOptions);
      await record(result.bytes, result.headerCrc32);
    });
    return path;
  }

  /** A file named by a save, relative to the directory and inside it. */
  private checkedFile(file: string): string {
    const relative = normalize(file);
    if (file === '' || relative.startsWith('..') || relative.startsWith('/') || relative === this.manifestName || relative === this.lockName) {
      throw new ArgumentError(`CheckpointManager.save: file must name a new file inside ${this.directory}, got '${file}'`);
    }
    return relative;
  }

  /** Serializes manifest updates: saves land in order, one manifest write at a time. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Waits for background saves and their manifest updates; rejects with the first failure. */
  async flush(): Promise<void> {
    await this.ready;
    await this.checkpoint.flush();
    await this.queue;
  }

  /** Waits for pending saves, then releases the directory for another manager. */
  async close(): Promise<void> {
    if (!(await this.ready.then(() => true, () => false))) return; // never opened: nothing to flush or release
    try {
      await this.flush();
    } finally {
      const lock = this.lock;
      this.lock = null;
      await lock?.release();
    }
  }

  /**
   * Closes the manager and deletes every file it wrote in its directory — its checkpoints,
   * the manifest, temporary files, the lock — and nothing else: the directory itself goes
   * only if that leaves it empty.
   */
  async deleteAll(): Promise<void> {
    await this.ready;
    await this.flush().catch(() => undefined); // a failed background save is moot: its file goes too
    const own = (name: string) => name === this.manifestName || this.isCheckpointFile(name) || this.isOwnTemporary(name);
    for (const name of await this.storage.list(this.directory)) if (own(name)) await this.storage.remove(join(this.directory, name));
    const elsewhere = [...this.loaded.checkpoints, ...(this.loaded.preserved ?? [])].filter((e) => dirname(e.file) !== '.');
    for (const e of elsewhere) await this.storage.remove(join(this.directory, e.file)).catch(() => undefined);
    this.manifest = { ...this.loaded, checkpoints: [] };
    await this.close();
    if ((await this.storage.list(this.directory)).length === 0) await this.storage.removeEmptyDir?.(this.directory);
  }

  private async applyRetention(newest: ManifestEntry): Promise<void> {
    const m = this.loaded;
    const swept = sweep(m.checkpoints, newest, m.policy, Date.parse(m.lastPreservedTime!), (e) => Date.parse(e.time));
    m.checkpoints = swept.keep;
    m.preserved = [...(m.preserved ?? []), ...swept.preserve];
    m.lastPreservedTime = new Date(swept.lastPreserved).toISOString();
    // Manifest first: a crash before the deletions leaves orphans, which the next start adopts
    // or deletes; the other order could leave the manifest naming files that are gone.
    await this.writeManifest();
    for (const e of swept.remove) await this.storage.remove(join(this.directory, e.file));
  }

  /** The newest checkpoint that verifies; damaged newer ones are reported through `warn`. */
  async latestVerified(): Promise<string | null> {
    await this.ready;
    const entries = this.loaded.checkpoints;
    for (let i = entries.length - 1; i >= 0; i--) {
      const path = join(this.directory, entries[i].file);
      try {
        await this.describe(path, entries[i].file);
        return path;
      } catch (e) {
        const reason = e instanceof CheckpointError ? e.message : String(e);
        const older = i > 0 ? `falling back to ${join(this.directory, entries[i - 1].file)}` : 'no older checkpoint to fall back to';
        this.warn(`checkpoint ${path} is damaged (${reason}); ${older}`);
      }
    }
    return null;
  }

  /**
   * Restores the newest checkpoint that verifies, or runs `initialize` when there is none.
   * Returns the path restored. With checkpointInterval, the interval then counts from the
   * restored step counter; a file written before save counters were saved gives its number.
   */
  async restoreOrInitialize(initialize?: () => void | Promise<void>): Promise<string | null> {
    const path = await this.latestVerified();
    if (path === null) {
      await initialize?.();
      return null;
    }
    const report = await this.checkpoint.read(path, { storage: this.storage });
    if (report.saveCounter === null) this.checkpoint.saveCounter.value = Number(/-(\d+)\.wpt$/.exec(path)?.[1] ?? 0);
    if (this.options.checkpointInterval !== undefined) this.lastStep = this.options.stepCounter!.value;
    return path;
  }

}

/** Refuses, by name and rule, every option that would otherwise be accepted and misbehave later. */
function validateOptions(o: CheckpointManagerOptions): void {
  const fail = (name: string, rule: string, value: unknown) => {
    throw new ArgumentError(`CheckpointManager: ${name} must be ${rule}, got ${typeof value === 'string' ? `'${value}'` : String(value)}`);
  };
  if (o.maxToKeep !== undefined && o.maxToKeep !== null && !(Number.isInteger(o.maxToKeep) && o.maxToKeep >= 1)) fail('maxToKeep', 'a positive integer or null', o.maxToKeep);
  const hours = o.keepEveryNHours;
  if (hours !== undefined && hours !== null && !(Number.isFinite(hours) && hours > 0)) fail('keepEveryNHours', 'a positive number of hours or null', hours);
  if (o.maxBytes !== undefined && o.maxBytes !== null && !(Number.isFinite(o.maxBytes) && o.maxBytes > 0)) fail('maxBytes', 'a positive number of bytes or null', o.maxBytes);
  if (o.checkpointInterval !== undefined && !(Number.isSafeInteger(o.checkpointInterval) && o.checkpointInterval >= 0)) {
    fail('checkpointInterval', 'a non-negative integer of steps', o.checkpointInterval);
  }
  if (o.checkpointInterval !== undefined && o.stepCounter === undefined) fail('stepCounter', 'given with checkpointInterval (the interval counts its steps)', o.stepCounter);
  if (o.lockLeaseMs !== undefined && !(Number.isFinite(o.lockLeaseMs) && o.lockLeaseMs >= 1000)) fail('lockLeaseMs', 'at least 1000 (milliseconds)', o.lockLeaseMs);
  if (o.onNonFinite !== undefined && !['warn', 'error', 'allow'].includes(o.onNonFinite)) fail('onNonFinite', "'warn', 'error' or 'allow'", o.onNonFinite);
  if (o.bestOf !== undefined && o.bestOf !== null) {
    const { monitor, mode, keep } = o.bestOf;
    if (typeof monitor !== 'string' || monitor === '') fail('bestOf.monitor', 'the name of a metric', monitor);
    if (mode !== undefined && !['min', 'max', 'auto'].includes(mode)) fail('bestOf.mode', "'min', 'max' or 'auto'", mode);
    if (keep !== undefined && !(Number.isInteger(keep) && keep >= 1)) fail('bestOf.keep', 'a positive integer', keep);
  }
}



function parseManifest(bytes: Uint8Array): Manifest {
  const m = JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
  if (m.format !== 'waypoint-manifest' || !Array.isArray(m.checkpoints)) throw new Error('not a waypoint manifest');
  return m;
}

/** A manifest with no checkpoints; as TensorFlow, the preservation clock starts a second before `now`. */
function emptyManifest(checkpointName: string, policy: RetentionPolicy, now: number): Manifest {
  return { format: 'waypoint-manifest', version: 1, checkpointName, policy, lastPreservedTime: new Date(now - 1000).toISOString(), checkpoints: [] };
}

async function writeManifestFile(storage: Storage, path: string, m: Manifest, failure: string): Promise<void> {
  await writeFileAtomic(storage, path, new TextEncoder().encode(`${JSON.stringify(m, null, 1)}\n`), tempPathFor(path)).catch((cause) => { throw osError(failure, path, cause); });
}

/** The manifest of `dir`, or null when there is none (or it is not one). */
async function readManifest(storage: Storage, dir: string): Promise<Manifest | null> {
  const bytes = await readFileIfExists(storage, join(dir, MANIFEST_NAME));
  try {
    return bytes && parseManifest(bytes);
  } catch {
    return null;
  }
}

/**
 * Records a file written by `Checkpoint.save` in its directory's manifest, under the
 * directory's lock: it becomes the directory's latest checkpoint, and a manager of its
 * checkpoint name manages it.
 */
export async function recordSave(storage: Storage, path: string, step: number, result: WriteResult): Promise<void> {
  const dir = dirname(path), file = basename(path);
  const warn = (m: string) => console.warn(`waypoint: ${m}`);
  const lock = await acquireLock(storage, dir, { warn });
  try {
    const m = await readManifest(storage, dir)
      ?? emptyManifest(file.replace(/-\d+\.wpt$/, ''), { maxToKeep: 5, keepEveryNHours: null, bestOf: null, maxBytes: null }, Date.now());
    m.checkpoints = m.checkpoints.filter((e) => e.file !== file);
    m.checkpoints.push({ file, step, metrics: {}, time: new Date().toISOString(), size: result.bytes, headerCrc32: result.headerCrc32 });
    m.latest = file;
    await writeManifestFile(storage, join(dir, MANIFEST_NAME), m, 'recording the checkpoint in the manifest failed');
  } finally {
    await lock.release();
  }
}

/**
 * The newest checkpoint recorded in `dir` (by a CheckpointManager or `Checkpoint.save`), as
 * tf.train.latest_checkpoint; null when there is none. Reads only the manifest.
 */
export async function latestCheckpoint(dir: string, storage: Storage = getDefaultStorage()): Promise<string | null> {
  const m = await readManifest(storage, dir);
  const latest = m?.latest ?? m?.checkpoints.at(-1)?.file;
  return latest ? join(dir, latest) : null;
}
