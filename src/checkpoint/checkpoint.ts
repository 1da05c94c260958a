/**
 * A Checkpoint saves and restores a named group of trackables and values in one .wpt file,
 * as tf.train.Checkpoint: `new Checkpoint({ generator, discriminator, optimizer, step })`.
 */
import { Tensor } from '../tensor/tensor.js';
import { CheckpointError } from '../state/errors.js';
import type { FileKind } from './layout/format.js';
import {
  type FlatLeaf,
  type JsonValue,
  type StateDict,
  type StateLeaf,
  flattenState,
  unflattenState,
} from '../state/tree.js';
import { type LoadOptions, type Trackable, copyUnlessSame, isTrackable } from '../state/trackable.js';
import { type WriteOptions, type WriteResult, replacedFilesReleased, writeWpt } from './format/writer.js';
import { recycle, takeScratch } from './layout/recycler.js';
import { WptReader } from './format/reader.js';
import { type Storage, getDefaultStorage } from '../storage/storage.js';
import { Variable } from '../state/variable.js';
import { ArgumentError, fmtShape } from '../errors.js';
import { recordSave } from './manifest.js';
import { type TransferOptions, throwIfAborted } from './layout/transfer.js';

export type Checkpointable = Trackable | Tensor | JsonValue;

export interface CheckpointWriteOptions extends Omit<WriteOptions, 'kind'> {
  kind?: FileKind;
  /**
   * For background writes: the most bytes of tensors a snapshot may copy. A background write
   * holds a copy of every tensor (the state's size) until its file is durable; a state larger
   * than this is written from the live arrays instead, the caller waiting until it is durable,
   * so memory never holds the model twice. Default: no cap.
   */
  maxSnapshotBytes?: number;
}

/** A background write: `durable` resolves once the file is on disk (or rejects with why not). */
export interface PendingWrite {
  path: string;
  durable: Promise<WriteResult>;
}

export interface ReadReport {
  /** Keys this checkpoint expected but the file lacks (restored: none of them). */
  missing: string[];
  /** Keys in the file that nothing here expects. */
  unexpected: string[];
  /** Keys present on both sides whose shape or kind differs (non-strict reads skip them). */
  mismatched: string[];
  /** The save counter the file held (restored into `saveCounter`), or null for a file without one. */
  saveCounter: number | null;
}

/** Where a checkpoint keeps its save counter, as TensorFlow's `save_counter`. */
export const SAVE_COUNTER = 'save_counter';

export class Checkpoint {
  private inFlight = new Map<string, Promise<unknown>>();
  /**
   * Saves so far, as TensorFlow's `save_counter`: `save` and CheckpointManager number files
   * with it; it is written into the checkpoint (once it is above 0) and restored by `read`.
   */
  readonly saveCounter = new Variable<number>(0);

  constructor(readonly objects: Record<string, Checkpointable>) {
    if (SAVE_COUNTER in objects)
      throw new ArgumentError(
        `Checkpoint: '${SAVE_COUNTER}' is the checkpoint's own counter; track your object under another name`,
      );
  }

  /** The current value of a tracked name (plain values are replaced by `read`). */
  get(name: string): Checkpointable {
    return this.objects[name];
  }

  stateDict(): StateDict {
    const tree = this.objectsState();
    if (this.saveCounter.value > 0) tree[SAVE_COUNTER] = this.saveCounter.value;
    return tree;
  }

  private objectsState(): StateDict {
    const tree: StateDict = {};
    for (const [name, obj] of Object.entries(this.objects))
      tree[name] = isTrackable(obj) ? obj.stateDict() : (obj as StateLeaf);
    return tree;
  }

  /**
   * As tf.train.Checkpoint.save: increments the save counter, writes `{prefix}-{counter}.wpt`
   * and records it as the newest checkpoint of its directory, where `latestCheckpoint(dir)`
   * and a CheckpointManager created later find it. Returns the path.
   */
  async save(prefix: string, options: CheckpointWriteOptions = {}): Promise<string> {
    this.saveCounter.value += 1;
    const path = `${prefix}-${this.saveCounter.value}.wpt`;
    const result = await this.write(path, {
      ...options,
      metadata: { step: this.saveCounter.value, ...options.metadata },
    });
    await recordSave(options.storage ?? getDefaultStorage(), path, this.saveCounter.value, result);
    return path;
  }

  /**
   * Writes every tracked object to `path` (atomically) and resolves when it is durable; with
   * `{ async: true }`, resolves once the state is copied, with a handle whose `durable`
   * settles when the file is on disk (see `writeInBackground`).
   */
  write(path: string, options: CheckpointWriteOptions & { async: true }): Promise<PendingWrite>;
  write(path: string, options?: CheckpointWriteOptions & { async?: false }): Promise<WriteResult>;
  async write(
    path: string,
    options: CheckpointWriteOptions & { async?: boolean } = {},
  ): Promise<WriteResult | PendingWrite> {
    const { async: background, maxSnapshotBytes, ...rest } = options;
    if (background) return this.writeInBackground(path, { ...rest, maxSnapshotBytes });
    return this.enqueue(path, flattenState(this.stateDict()), rest);
  }

  /**
   * Copies the state now (so training may mutate weights right after), then encodes and
   * writes in the background. Resolves as soon as the copy is taken, unless a write to
   * the same path is still in flight: then it first waits for that one (backpressure).
   */
  async writeInBackground(path: string, options: CheckpointWriteOptions = {}): Promise<PendingWrite> {
    const { maxSnapshotBytes, ...writeOptions } = options;
    if (maxSnapshotBytes !== undefined && !(maxSnapshotBytes >= 0))
      throw new ArgumentError(`maxSnapshotBytes must be a number of bytes >= 0, got ${maxSnapshotBytes}`);
    const leaves = flattenState(this.stateDict());
    const bytes = leaves.reduce((n, l) => n + (l.kind === 'tensor' ? l.value.data.byteLength : 0), 0);
    if (maxSnapshotBytes !== undefined && bytes > maxSnapshotBytes) {
      // No copy: written from the live arrays, so the caller waits until the file is durable.
      const result = await this.enqueue(path, leaves, writeOptions);
      return { path, durable: Promise.resolve(result) };
    }
    const copies: Uint8Array[] = [];
    const snapshot = leaves.map((leaf) => copyLeaf(leaf, copies));
    const previous = this.inFlight.get(path);
    if (previous) await previous.catch(() => undefined);
    const durable = this.enqueue(path, snapshot, { ...writeOptions, background: true });
    // The copies go back for the next snapshot once written: copying into memory already
    // touched is several times faster than into fresh pages (bench/checkpoint-io.ts).
    const giveBack = () => recycle(copies);
    durable.then(giveBack, giveBack);
    return { path, durable };
  }

  /** Waits for every background write, and for the files they replaced to be deleted; rejects with the first failure. */
  async flush(): Promise<void> {
    await Promise.all([...this.inFlight.values()]);
    await replacedFilesReleased();
  }

  private enqueue(
    path: string,
    leaves: FlatLeaf[],
    options: CheckpointWriteOptions & { background?: boolean },
  ): Promise<WriteResult> {
    const previous = this.inFlight.get(path) ?? Promise.resolve();
    const write = previous
      .catch(() => undefined)
      .then(() => writeWpt(path, leaves, { ...options, kind: options.kind ?? 'checkpoint' }));
    this.inFlight.set(path, write);
    const settle = () => {
      if (this.inFlight.get(path) === write) this.inFlight.delete(path);
    };
    write.then(settle, settle);
    return write;
  }

  /**
   * Restores every tracked object from `path`. Strict (the default) refuses a file whose keys
   * or shapes differ from what is tracked, listing every difference; non-strict restores
   * what matches and reports the rest.
   */
  async read(
    path: string,
    options: LoadOptions & TransferOptions & { ignoreUnexpected?: (key: string) => boolean; storage?: Storage } = {},
  ): Promise<ReadReport> {
    const strict = options.strict ?? true;
    const what = `the restore of ${path}`;
    throwIfAborted(options.signal, what, path);
    const reader = await WptReader.open(path, options.storage);
    try {
      for (const [name, obj] of Object.entries(this.objects)) {
        if (!isTrackable(obj) || obj.prepareRestore === undefined) continue;
        const under = reader.entries.filter((e) => e.key.startsWith(`${name}/`));
        obj.prepareRestore(
          under.map((e) => ({ key: e.key.slice(name.length + 1), shape: e.dtype === 'json' ? null : e.shape })),
        );
      }
      const expected = new Map(flattenState(this.objectsState()).map((leaf) => [leaf.key, leaf]));
      const inFile = new Map(reader.entries.map((e) => [e.key, e]));
      const report: ReadReport = {
        missing: [...expected.keys()].filter((k) => !inFile.has(k)),
        unexpected: [...inFile.keys()].filter(
          (k) => k !== SAVE_COUNTER && !expected.has(k) && !options.ignoreUnexpected?.(k),
        ),
        mismatched: [],
        saveCounter: null,
      };
      const shapeProblems: string[] = [];
      for (const [key, leaf] of expected) {
        const e = inFile.get(key);
        if (e === undefined) continue;
        const fileIsTensor = e.dtype !== 'json';
        if (leaf.kind === 'tensor' && fileIsTensor && !sameShape(leaf.value.shape, e.shape)) {
          shapeProblems.push(`${key}: expected ${fmtShape(leaf.value.shape)}, file has ${fmtShape(e.shape)}`);
        } else if ((leaf.kind === 'tensor') !== fileIsTensor) {
          shapeProblems.push(
            `${key}: expected a ${leaf.kind === 'tensor' ? 'tensor' : 'JSON value'}, file has ${fileIsTensor ? 'a tensor' : 'a JSON value'}`,
          );
        } else continue;
        report.mismatched.push(key);
      }
      if (strict && report.missing.length + report.unexpected.length + shapeProblems.length > 0) {
        const parts = [
          report.missing.length ? `missing from the file: ${report.missing.join(', ')}` : '',
          report.unexpected.length ? `not expected: ${report.unexpected.join(', ')}` : '',
          shapeProblems.length ? `different shape or kind: ${shapeProblems.join('; ')}` : '',
        ].filter(Boolean);
        const code = report.missing.length
          ? 'MISSING_KEYS'
          : report.unexpected.length
            ? 'UNEXPECTED_KEYS'
            : 'SHAPE_MISMATCH';
        throw new CheckpointError(code, `${parts.join('; ')} (read with { strict: false } to restore what matches)`, {
          file: path,
        });
      }
      const restorable = [...expected.values()].filter(
        (leaf) => inFile.has(leaf.key) && !report.mismatched.includes(leaf.key),
      );
      const tensors = restorable.filter((leaf) => leaf.kind === 'tensor');
      const json = restorable.filter((leaf) => leaf.kind === 'json');
      // Tensors decode straight into the arrays stateDict() handed out (the live weights,
      // for this package's trackables), but only once every one of them has verified and
      // every JSON value has parsed: a damaged file changes nothing.
      const counterEntry = inFile.get(SAVE_COUNTER);
      const [staged, values] = await Promise.allSettled([
        reader.stage(
          tensors.map((leaf) => ({ key: leaf.key, into: leaf.value.data })),
          options,
        ),
        Promise.all([
          ...json.map((leaf) => reader.read(leaf.key)),
          ...(counterEntry?.dtype === 'json' ? [reader.read(SAVE_COUNTER)] : []),
        ]),
      ]);
      if (staged.status === 'rejected' || values.status === 'rejected') {
        if (staged.status === 'fulfilled') staged.value.discard();
        throw staged.status === 'rejected' ? staged.reason : (values as PromiseRejectedResult).reason;
      }
      // The last moment an abort leaves every array as it was.
      if (options.signal?.aborted) staged.value.discard();
      throwIfAborted(options.signal, what, path);
      await staged.value.commit();
      const leaves: Array<{ key: string; value: StateLeaf }> = [
        ...tensors.map((leaf) => ({ key: leaf.key, value: leaf.value })),
        ...json.map((leaf, i) => ({ key: leaf.key, value: values.value[i] as StateLeaf })),
      ];
      this.restore(unflattenState(leaves), strict);
      const counter = values.value[json.length];
      if (typeof counter === 'number') this.saveCounter.value = report.saveCounter = counter;
      return report;
    } finally {
      await reader.close();
    }
  }

  private restore(tree: StateDict, strict: boolean): void {
    for (const [name, obj] of Object.entries(this.objects)) {
      if (!(name in tree)) continue;
      if (isTrackable(obj)) obj.loadStateDict(tree[name] as StateDict, { strict });
      else if (obj instanceof Tensor) copyUnlessSame((tree[name] as Tensor).data, obj.data);
      else this.objects[name] = tree[name] as JsonValue;
    }
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** A copy of a leaf; tensors are copied into scratch memory, recorded in `copies`. */
function copyLeaf(leaf: FlatLeaf, copies: Uint8Array[]): FlatLeaf {
  if (leaf.kind === 'tensor') {
    const source = leaf.value.data;
    const bytes = takeScratch(source.byteLength);
    copies.push(bytes);
    const data = new Float32Array(bytes.buffer, bytes.byteOffset, source.length);
    data.set(source);
    return { ...leaf, value: new Tensor(data, leaf.value.shape) };
  }
  return { ...leaf, value: structuredClone(leaf.value) };
}
