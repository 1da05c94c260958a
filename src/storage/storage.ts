/**
 * Where checkpoint bytes go. The writer and reader see only this interface, so tests can
 * swap in memory or fault-injecting storage. The default is the platform's: the file system
 * in Node (src/node/fs-storage.ts), IndexedDB in a browser (src/browser), none elsewhere.
 */
import { dirname } from '../paths.js';
import { ArgumentError } from '../errors.js';

export interface WriteHandle {
  /** Writes the buffers in order, at the end of what was written before. */
  write(buffers: Uint8Array[]): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface ReadHandle {
  readonly size: number;
  /**
   * Reads exactly `length` bytes at `offset` (fewer only if the file ends first), into the
   * start of `into` when given (which must have room), else into a new array.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
  /**
   * The open file's descriptor, where the storage is the operating system's: worker
   * threads of this process can read the same open file through it (load-threads.ts).
   */
  readonly fd?: number;
  /**
   * A stamp of the open file's contents that changes whenever they do (the file system's: its
   * inode, size, and change and modification times to the nanosecond), where the storage can
   * tell. A restore that reads a file twice compares it before and after instead of
   * checksumming the second read (WptReader.stage).
   */
  version?(): Promise<string>;
}

/** What must hold at a path for `createAtomic` to publish there (checked by the store, at publication). */
export interface PublishCondition {
  /** The file there must still be this version (`ReadHandle.version`, an object store's ETag): HTTP's If-Match. */
  ifVersion?: string;
  /** No file may be there: HTTP's If-None-Match: *. */
  ifAbsent?: boolean;
}

/** A file that appears at its path, whole, when `close` resolves, and never if it is aborted. */
export interface AtomicWriteHandle extends WriteHandle {
  /** Drops what was written: nothing appears (an object store's upload is aborted). */
  abort(): Promise<void>;
  /** After `close`: the published file's version, where the store has one. */
  readonly version?: string;
}

export interface Storage {
  createExclusive(path: string): Promise<WriteHandle>;
  /**
   * Where the store publishes a file only when it is complete (an object store: a PUT, or a
   * multipart upload completed), a file written straight under its name: the writer needs no
   * temporary file and rename, which an object store can only do as a copy. A failed
   * condition rejects `close` with code EEXIST (`ifAbsent`) or ECONFLICT (`ifVersion`).
   */
  createAtomic?(path: string, condition?: PublishCondition): Promise<AtomicWriteHandle>;
  /**
   * Whether the store enforces `createAtomic`'s conditions (object stores that ignore
   * If-Match say false; the lock then falls back to a lease read back after writing).
   */
  conditionalWrites?(): Promise<boolean>;
  /**
   * Drops the unfinished writes (an object store's incomplete multipart uploads, left by a
   * killed process) of the files in `dir` that `owned` claims; returns their names.
   */
  abortIncompleteWrites?(dir: string, owned: (name: string) => boolean): Promise<string[]>;
  openRead(path: string): Promise<ReadHandle>;
  /** Atomically replaces `to` with `from`. */
  rename(from: string, to: string): Promise<void>;
  /** Gives the file `existing` a second name, `newPath` (a hard link), where the storage has them. */
  link?(existing: string, newPath: string): Promise<void>;
  /** Makes a rename in `dir` durable (fsync of the directory). */
  syncDir(dir: string): Promise<void>;
  remove(path: string): Promise<void>;
  list(dir: string): Promise<string[]>;
  mkdirp(dir: string): Promise<void>;
  /** Removes `dir` if it is an empty directory; leaves it (no error) otherwise. Storages without directories omit it. */
  removeEmptyDir?(dir: string): Promise<void>;
  /** Bytes free for this user on the volume holding `dir`, where the storage can tell. */
  freeBytes?(dir: string): Promise<number>;
  /**
   * Creates `path` exclusively for appends that are in the file when `write` returns (the
   * file system's synchronous writes): a process killed right after loses none of them.
   */
  createSynchronous?(path: string): WriteHandle;
  /** Reads a small file at once (null when missing), where the storage can. */
  readSync?(path: string): Uint8Array | null;
  /** Removes a file at once (a process's exit hook cannot wait). */
  removeSync?(path: string): void;
  /** Names this store among others of its kind in lock names (an IndexedDB database, a bucket and prefix). */
  readonly lockScope?: string;
  /** Its reads are network round trips (an object store): the lock is re-read once a heartbeat, not at every save. */
  readonly networked?: boolean;
  /** Where this storage's directory locks live, when elsewhere (a tiered storage's remote tier, which every machine sees). */
  readonly locks?: Storage;
  /** Where copies to another tier stand (TieredStorage). */
  readonly uploads?: UploadStatus;
  /** Resolves when everything written is on every tier (TieredStorage); rejects with what stopped it. */
  flush?(): Promise<void>;
}

/** Copies of files to a remote tier, as they stand. */
export interface UploadStatus {
  /** The files waiting to be copied (or being copied), oldest first. */
  pending: string[];
  uploaded: number;
  removed: number;
  bytesUploaded: number;
  /** The copy that failed after its retries, if the last one did (it is tried again at the next change). */
  failed: { path: string; message: string } | null;
}

/**
 * The most bytes handed to one writev-like call. Linux writes at most 0x7ffff000 bytes a call,
 * and Node reports a count of 2 GiB or more wrapped to 32 bits (negative): a larger batch
 * would look like a write that made no progress.
 */
export const MAX_WRITE_CALL_BYTES = 1 << 30;

/**
 * Writes every byte of `buffers` through a writev-like call that may write fewer bytes
 * than asked (a short write), continuing where it stopped. Byte counts are plain numbers
 * (exact to 2^53); no call is given more than MAX_WRITE_CALL_BYTES.
 */
export async function writeFully(
  writev: (buffers: Uint8Array[]) => Promise<number>,
  buffers: Uint8Array[],
): Promise<void> {
  let pending = buffers.filter((b) => b.length > 0);
  while (pending.length > 0) {
    const call = takePrefix(pending, MAX_WRITE_CALL_BYTES);
    const total = call.reduce((n, b) => n + b.length, 0);
    const written = await writev(call);
    if (!(written > 0 && written <= total))
      throw Object.assign(new Error(`write made no progress (${written} of ${total} bytes)`), { code: 'EIO' });
    pending = dropPrefix(pending, written);
  }
}

/** The first `bytes` bytes of `buffers` (all of them if fewer), as views. */
function takePrefix(buffers: Uint8Array[], bytes: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of buffers) {
    if (bytes <= 0) break;
    out.push(b.length <= bytes ? b : b.subarray(0, bytes));
    bytes -= b.length;
  }
  return out;
}

const missing = (): never => {
  throw new ArgumentError(
    'no storage was given and this platform has no default one: pass `storage` (a MemoryStorage, ' +
      'IndexedDBStorage or OPFSStorage), or use the package from Node or a browser, whose entries provide the file system and IndexedDB',
  );
};

/** Stands in where the platform has no storage: every use says so. */
const noStorage: Storage = {
  createExclusive: missing,
  openRead: missing,
  rename: missing,
  syncDir: missing,
  remove: missing,
  list: missing,
  mkdirp: missing,
};

let defaultStorage: Storage = noStorage;

/** The storage used when an API is given none (the platform's, unless replaced). */
export function getDefaultStorage(): Storage {
  return defaultStorage;
}

/** Replaces the process-wide default storage (a browser store, a fault injector in tests). */
export function setDefaultStorage(storage: Storage): void {
  defaultStorage = storage;
}

function dropPrefix(buffers: Uint8Array[], bytes: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of buffers) {
    if (bytes >= b.length) {
      bytes -= b.length;
      continue;
    }
    out.push(bytes > 0 ? b.subarray(bytes) : b);
    bytes = 0;
  }
  return out;
}

/** Writes a small file crash-safely: temporary file, fsync, rename, directory fsync. */
export async function writeFileAtomic(
  storage: Storage,
  path: string,
  bytes: Uint8Array,
  tempPath: string,
): Promise<void> {
  if (storage.createAtomic) {
    await writeAtomically(storage, path, bytes);
    return;
  }
  await writeNewFile(storage, tempPath, bytes);
  try {
    await storage.rename(tempPath, path);
  } catch (e) {
    await storage.remove(tempPath).catch(() => undefined);
    throw e;
  }
  await storage.syncDir(dirname(path));
}

/**
 * Publishes `bytes` at `path` through `createAtomic` (which the storage must have), under
 * `condition`; returns the new file's version where the storage has versions.
 */
export async function writeAtomically(
  storage: Storage,
  path: string,
  bytes: Uint8Array,
  condition?: PublishCondition,
): Promise<string | undefined> {
  const handle = await storage.createAtomic!(path, condition);
  try {
    await handle.write([bytes]);
  } catch (e) {
    await handle.abort().catch(() => undefined);
    throw e;
  }
  await handle.close();
  return handle.version;
}

/**
 * Creates `path` holding `bytes`, durably (EEXIST if it exists); a failed write removes it
 * again. Returns the file's version where the storage stamps new files (an object store's ETag).
 */
export async function writeNewFile(storage: Storage, path: string, bytes: Uint8Array): Promise<string | undefined> {
  const handle = await storage.createExclusive(path);
  try {
    await handle.write([bytes]);
    await handle.sync();
    await handle.close();
    return (handle as Partial<AtomicWriteHandle>).version;
  } catch (e) {
    const atomic = handle as Partial<AtomicWriteHandle>;
    // A file that appears only at close was not published: nothing to remove (and a rival's
    // file may now be at the path, which a close that lost the race must leave alone).
    if (atomic.abort) await atomic.abort().catch(() => undefined);
    else {
      await handle.close().catch(() => undefined);
      await storage.remove(path).catch(() => undefined);
    }
    throw e;
  }
}

/** Reads a whole (small) file, or null when it does not exist. */
export async function readFileIfExists(storage: Storage, path: string): Promise<Uint8Array | null> {
  return (await readFileWithVersion(storage, path, false))?.bytes ?? null;
}

/** A whole (small) file and, where the storage stamps them, its version (null when it does not exist). */
export async function readFileWithVersion(
  storage: Storage,
  path: string,
  versioned = true,
): Promise<{ bytes: Uint8Array; version: string | undefined } | null> {
  let handle: ReadHandle;
  try {
    handle = await storage.openRead(path);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const bytes = await handle.read(0, handle.size);
    return { bytes, version: versioned ? await handle.version?.() : undefined };
  } finally {
    await handle.close();
  }
}
