/**
 * A fast local tier and a remote one that outlives the machine (an S3Storage): every file is
 * first written, durably, to the local tier (so a save blocks training no longer than a local
 * save does), then copied to the remote tier in the background, in order.
 *
 * The remote tier replays the local tier's changes as an ordered log: each file that
 * appears under its final name (a rename over it, or a close) is uploaded, and each removal
 * is replayed, strictly in the order they happened, one at a time. So the remote tier is
 * always a state the local tier was in: a manifest is uploaded only after the checkpoints it
 * names, and a checkpoint that retention removed disappears remotely only after the manifest
 * that no longer names it — never the one a run resumed from while its successor is still
 * uploading. An upload superseded by a later change of the same file is skipped.
 *
 * Reads prefer the local tier; a file only the remote tier has is downloaded into the local
 * one first, so a process started on a new machine (an empty local tier) restores from the
 * remote checkpoints at download speed; listings are the union
 * of both tiers. Directory locks live on the remote tier (`locks`), where every machine sees
 * them. Upload failures are retried with backoff, then warned about (and retried at the next
 * change) or, with `onUploadError: 'throw'`, raised by the next write, so that a save fails
 * and its caller's `onSaveError` decides. `uploads` tells where the uploads are. The rules
 * are docs/FORMAT.md §10.2.
 */
import { basename, dirname, join } from '../paths.js';
import { CheckpointError } from '../state/errors.js';
import type { AtomicWriteHandle, ReadHandle, Storage, UploadStatus, WriteHandle } from './storage.js';
import { TEMP_SUFFIX, tempPathFor } from './temp-names.js';

export interface TieredStorageOptions {
  local: Storage;
  remote: Storage;
  /**
   * Checkpoint files (`.wpt`) kept on the local tier per directory once they are uploaded,
   * newest first (default: all that the managers keep). Older ones are read from the remote tier.
   */
  keepLocal?: number;
  /** After the retries: 'warn' (default; retried at the next change) or 'throw' (the next write fails with the error). */
  onUploadError?: 'warn' | 'throw';
  /** Tries of one upload or removal on the remote tier (each request is also retried by the remote storage); default 4. */
  attempts?: number;
  /** The first retry's delay, doubling; default 1 s. */
  retryDelayMs?: number;
  warn?: (message: string) => void;
}

/** A change to replay; `bytes`: a small file's content as it was at the change (see record). */
type Change = {
  kind: 'upload' | 'remove' | 'removeDir';
  path: string;
  seq: number;
  bytes?: Uint8Array;
  /** Resolves once `bytes` is read: the change holds its place in the order meanwhile. */
  ready?: Promise<void>;
};

/** Bytes read from one tier per write to the other. */
const PIECE_BYTES = 8 << 20;
/** Ranged reads of a download in flight at once: a request's round trip overlaps the others' transfer. */
const DOWNLOADS_IN_FLIGHT = 4;
/**
 * Files up to this size (manifests, locks' neighbours, logs) are read at the change: a file
 * rewritten before its upload (a manifest, two or three times a save) must go up as each
 * version was, in its place in the order, not as the newest one ahead of the files it names.
 */
const SNAPSHOT_BYTES = 1 << 20;

const isTemporary = (path: string) => path.endsWith(TEMP_SUFFIX);
const isCheckpointFile = (path: string) => path.endsWith('.wpt');

export class TieredStorage implements Storage {
  readonly local: Storage;
  readonly remote: Storage;
  /** Locks go to the remote tier: the one every machine sharing the run sees. */
  readonly locks: Storage;
  readonly lockScope?: string;
  private readonly queue: Change[] = [];
  private seq = 0;
  private worker: Promise<void> | null = null;
  private failure: { error: Error; path: string } | null = null;
  private readonly uploadedWpt = new Map<string, string[]>();
  private readonly status = { uploaded: 0, removed: 0, bytes: 0 };
  private current: Change | null = null;
  private readonly downloads = new Map<string, Promise<void>>();
  /** Files removed while their upload waited: their local copies go when the removal is replayed. */
  private readonly keptForUpload = new Set<string>();

  constructor(private readonly options: TieredStorageOptions) {
    this.local = options.local;
    this.remote = options.remote;
    this.locks = options.remote.locks ?? options.remote;
    this.lockScope = options.remote.lockScope;
    const local = options.local;
    if (local.freeBytes) this.freeBytes = (dir) => local.freeBytes!(dir);
  }

  /** The local tier's free bytes, where it can tell (saves go there first). */
  readonly freeBytes?: (dir: string) => Promise<number>;

  get uploads(): UploadStatus {
    const pending = this.queue.filter((c) => c.kind === 'upload').map((c) => c.path);
    return {
      pending: this.current?.kind === 'upload' ? [this.current.path, ...pending] : pending,
      uploaded: this.status.uploaded,
      removed: this.status.removed,
      bytesUploaded: this.status.bytes,
      failed: this.failure ? { path: this.failure.path, message: this.failure.error.message } : null,
    };
  }

  /** Resolves when every change so far is on the remote tier; rejects with the failure that stopped it. */
  async flush(): Promise<void> {
    if (this.failure && this.queue.length) this.kick();
    while (this.worker) await this.worker;
    if (this.failure) throw this.failureError();
  }

  private failureError(): CheckpointError {
    const { error, path } = this.failure!;
    return new CheckpointError(
      (error as CheckpointError).code ?? 'IO',
      `the remote tier is behind: copying ${path} failed (${error.message})`,
      { file: path, cause: error },
    );
  }

  /** In 'throw' mode, a write after a failed upload fails with it (and the uploads are tried again). */
  private assertHealthy(): void {
    if (this.failure && this.options.onUploadError === 'throw') {
      const e = this.failureError();
      this.kick();
      throw e;
    }
  }

  private async record(kind: Change['kind'], path: string): Promise<void> {
    if (isTemporary(path)) return;
    const change: Change = { kind, path, seq: this.seq++ };
    if (kind === 'upload') change.ready = this.snapshot(change);
    this.queue.push(change);
    this.kick();
    await change.ready;
  }

  /** Reads a small file into its change (a failure is the upload's, retried as it is). */
  private async snapshot(change: Change): Promise<void> {
    const handle = await this.local.openRead(change.path).catch(() => null);
    if (!handle) return; // gone already: the upload finds it gone too
    try {
      if (handle.size <= SNAPSHOT_BYTES) change.bytes = (await handle.read(0, handle.size)).slice();
    } finally {
      await handle.close();
    }
  }

  /** Starts the worker unless it runs: a change after a failure tries the failed one again. */
  private kick(): void {
    if (this.worker) return;
    this.failure = null;
    this.worker = this.drain().finally(() => (this.worker = null));
  }

  /**
   * Whether a later change of the same file makes this one unneeded: a newer copy of it with
   * no removal of another file between (a removal must follow the copy of the manifest that
   * stopped naming that file). A later removal of the file does not: a manifest copied in
   * between may still name it.
   */
  private supersededAfter(change: Change): boolean {
    for (const c of this.queue) {
      if (c.seq <= change.seq) continue;
      if (c.path === change.path) return change.kind !== 'upload' || c.kind === 'upload';
      if (c.kind !== 'upload') return false;
    }
    return false;
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const change = this.queue[0];
      this.current = change;
      try {
        await change.ready?.catch(() => undefined);
        await this.withRetries(change);
        this.queue.shift();
      } catch (error) {
        this.failure = { error: error as Error, path: change.path };
        (this.options.warn ?? console.warn)(
          `TieredStorage: ${change.kind === 'upload' ? 'uploading' : 'removing'} ${change.path} on the remote tier failed ` +
            `after ${this.options.attempts ?? 4} tries (${(error as Error).message}); ` +
            (this.options.onUploadError === 'throw'
              ? 'the next save fails with this error'
              : 'it is tried again at the next save'),
        );
        return;
      } finally {
        this.current = null;
      }
    }
  }

  private async withRetries(change: Change): Promise<void> {
    const attempts = this.options.attempts ?? 4;
    let delay = this.options.retryDelayMs ?? 1000;
    for (let attempt = 1; ; attempt++) {
      try {
        if (change.kind === 'remove') {
          if (!this.supersededAfter(change)) await this.remote.remove(change.path);
          // The local copy kept for its upload, unless the file was written anew since.
          const writtenAnew = this.queue.some(
            (c) => c.seq > change.seq && c.path === change.path && c.kind === 'upload',
          );
          if (this.keptForUpload.delete(change.path) && !writtenAnew) await this.local.remove(change.path);
          this.status.removed++;
        } else if (change.kind === 'removeDir') await this.remote.removeEmptyDir?.(change.path);
        else await this.upload(change);
        return;
      } catch (e) {
        if (attempt >= attempts) throw e;
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }

  /** Copies the file to the remote tier (as it was at the change, if small), unless a later change supersedes this one. */
  private async upload(change: Change): Promise<void> {
    if (this.supersededAfter(change)) return;
    let source: ReadHandle;
    if (change.bytes) source = inMemory(change.bytes);
    else
      try {
        source = await this.local.openRead(change.path);
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') return; // removed since: its removal follows
        throw e;
      }
    try {
      // An object store publishes at close; any other remote tier gets a temporary file renamed into place.
      const temp = this.remote.createAtomic ? null : tempPathFor(change.path);
      const target = temp ? await this.remote.createExclusive(temp) : await this.remote.createAtomic!(change.path);
      const piece = new Uint8Array(Math.min(PIECE_BYTES, Math.max(1, source.size)));
      try {
        for (let at = 0; at < source.size; at += piece.length)
          await target.write([await source.read(at, piece.length, piece)]);
        await target.sync();
        await target.close();
        if (temp) {
          await this.remote.rename(temp, change.path);
          await this.remote.syncDir(dirname(change.path));
        }
      } catch (e) {
        if (!temp) await (target as AtomicWriteHandle).abort().catch(() => undefined);
        else {
          await target.close().catch(() => undefined);
          await this.remote.remove(temp).catch(() => undefined);
        }
        throw e;
      }
      this.status.uploaded++;
      this.status.bytes += source.size;
    } finally {
      await source.close();
    }
    if (isCheckpointFile(change.path)) await this.pruneLocal(change.path);
  }

  /** Drops uploaded checkpoint files of `path`'s directory beyond the newest `keepLocal` from the local tier. */
  private async pruneLocal(path: string): Promise<void> {
    const keep = this.options.keepLocal;
    if (keep === undefined) return;
    const dir = dirname(path);
    const uploaded = (this.uploadedWpt.get(dir) ?? []).filter((p) => p !== path);
    uploaded.push(path);
    this.uploadedWpt.set(dir, uploaded);
    while (uploaded.length > keep) {
      const old = uploaded.shift()!;
      if (this.queue.some((c) => c.path === old)) continue; // changing again: not ours to drop
      await this.local.remove(old).catch(() => undefined);
    }
  }

  async createExclusive(path: string): Promise<WriteHandle> {
    this.assertHealthy();
    const handle = await this.local.createExclusive(path);
    return {
      write: (buffers) => handle.write(buffers),
      sync: () => handle.sync(),
      close: async () => {
        await handle.close();
        await this.record('upload', path);
      },
    };
  }

  /**
   * The local copy; a file only the remote tier has (a new machine's first restore) is first
   * downloaded into the local tier, with large ranged reads in parallel, and read from there.
   */
  async openRead(path: string): Promise<ReadHandle> {
    if (this.removing(path)) throw Object.assign(new Error(`ENOENT: ${path} was removed`), { code: 'ENOENT', path });
    try {
      return await this.local.openRead(path);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT' || this.removing(path)) throw e;
    }
    let download = this.downloads.get(path);
    if (!download) {
      download = this.download(path).finally(() => this.downloads.delete(path));
      this.downloads.set(path, download);
    }
    await download;
    return this.local.openRead(path);
  }

  /** Copies `path` from the remote tier into the local one (a temporary file renamed into place; not replayed). */
  private async download(path: string): Promise<void> {
    const source = await this.remote.openRead(path);
    const temp = tempPathFor(path);
    try {
      await this.local.mkdirp(dirname(path));
      const target = await this.local.createExclusive(temp);
      try {
        const pieces = Math.ceil(source.size / PIECE_BYTES);
        const reading: Array<Promise<Uint8Array>> = [];
        const start = (i: number) => {
          if (i < pieces)
            reading[i] = source.read(i * PIECE_BYTES, Math.min(PIECE_BYTES, source.size - i * PIECE_BYTES));
          reading[i]?.catch(() => undefined); // awaited in order below
        };
        for (let i = 0; i < DOWNLOADS_IN_FLIGHT; i++) start(i);
        for (let i = 0; i < pieces; i++) {
          const piece = await reading[i];
          const expected = Math.min(PIECE_BYTES, source.size - i * PIECE_BYTES);
          if (piece.length !== expected)
            throw new CheckpointError(
              'TRUNCATED',
              `downloading ${path}: ${piece.length} bytes at ${i * PIECE_BYTES}, not ${expected}`,
              {
                file: path,
                offset: i * PIECE_BYTES + piece.length,
              },
            );
          start(i + DOWNLOADS_IN_FLIGHT);
          await target.write([piece]);
          delete reading[i];
        }
        await target.sync();
        await target.close();
      } catch (e) {
        await target.close().catch(() => undefined);
        throw e;
      }
      await this.local.rename(temp, path);
      await this.local.syncDir(dirname(path));
    } catch (e) {
      await this.local.remove(temp).catch(() => undefined);
      throw e;
    } finally {
      await source.close();
    }
  }

  /** Whether the last change of `path` waiting for the remote tier is its removal. */
  private removing(path: string): boolean {
    for (let i = this.queue.length - 1; i >= 0; i--)
      if (this.queue[i].path === path) return this.queue[i].kind !== 'upload';
    return false;
  }

  async rename(from: string, to: string): Promise<void> {
    this.assertHealthy();
    await this.local.rename(from, to);
    await this.record('upload', to);
    await this.record('remove', from);
  }

  async syncDir(dir: string): Promise<void> {
    await this.local.syncDir(dir);
  }

  /**
   * Removes the file from both tiers. A file still waiting for its upload keeps its local copy
   * until that upload is done (a manifest copied before its removal may name it): the local
   * copy goes when the removal is replayed; meanwhile it is hidden from reads and listings.
   */
  async remove(path: string): Promise<void> {
    const uploading = this.current?.path === path || this.queue.some((c) => c.path === path && c.kind === 'upload');
    if (uploading) this.keptForUpload.add(path);
    else await this.local.remove(path);
    await this.record('remove', path);
  }

  /** Both tiers' names (a file being removed remotely is already gone). */
  async list(dir: string): Promise<string[]> {
    // Taken before the remote listing: a removal that completes during it must still hide the name.
    const removing = new Set(this.queue.map((c) => c.path).filter((p) => this.removing(p)));
    const [local, remote] = await Promise.allSettled([this.local.list(dir), this.remote.list(dir)]);
    const missing = (r: PromiseSettledResult<string[]>) =>
      r.status === 'rejected' && (r.reason as { code?: string }).code === 'ENOENT';
    for (const r of [local, remote]) if (r.status === 'rejected' && !missing(r)) throw r.reason;
    if (local.status === 'rejected' && missing(remote)) throw local.reason;
    const names = new Set((local.status === 'fulfilled' ? local.value : []).filter((n) => !removing.has(join(dir, n))));
    if (remote.status === 'fulfilled') for (const n of remote.value) if (!removing.has(join(dir, n))) names.add(n);
    return [...names];
  }

  async mkdirp(dir: string): Promise<void> {
    await this.local.mkdirp(dir);
    await this.remote.mkdirp(dir);
  }

  async removeEmptyDir(dir: string): Promise<void> {
    await this.local.removeEmptyDir?.(dir);
    const left = await this.local.list(dir).catch(() => null);
    if (left === null) await this.record('removeDir', dir);
  }

  /** The remote tier's unfinished uploads, but for those this storage is making now. */
  async abortIncompleteWrites(dir: string, owned: (name: string) => boolean): Promise<string[]> {
    const busy = this.current ? basename(this.current.path) : null;
    return (await this.remote.abortIncompleteWrites?.(dir, (name) => name !== busy && owned(name))) ?? [];
  }
}

/** A ReadHandle over bytes in hand. */
function inMemory(bytes: Uint8Array): ReadHandle {
  return {
    size: bytes.length,
    read: async (offset, length, into) => {
      const part = bytes.subarray(offset, Math.min(offset + length, bytes.length));
      if (!into) return part.slice();
      into.set(part);
      return into.subarray(0, part.length);
    },
    close: async () => undefined,
  };
}
