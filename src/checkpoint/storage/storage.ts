/**
 * Where checkpoint bytes go. The writer and reader see only this interface, so tests can
 * swap in memory or fault-injecting storage; the default is the real filesystem.
 */
import { read as fsRead, promises as fsp, constants as fsConstants } from 'node:fs';
import { dirname } from '../../paths.js';
import { allocUninitialized } from '../node.js';

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
}

export interface Storage {
  createExclusive(path: string): Promise<WriteHandle>;
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
}

/**
 * Writes every byte of `buffers` through a writev-like call that may write fewer bytes
 * than asked (a short write), continuing where it stopped.
 */
export async function writeFully(writev: (buffers: Uint8Array[]) => Promise<number>, buffers: Uint8Array[]): Promise<void> {
  let pending = buffers.filter((b) => b.length > 0);
  while (pending.length > 0) {
    const total = pending.reduce((n, b) => n + b.length, 0);
    const written = await writev(pending);
    if (written === total) return;
    if (!(written > 0)) throw Object.assign(new Error(`write made no progress (${written} of ${total} bytes)`), { code: 'EIO' });
    pending = dropPrefix(pending, written);
  }
}

export const fsStorage: Storage = {
  async createExclusive(path) {
    const fh = await fsp.open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
    return {
      write: (buffers) => writeFully(async (b) => (await fh.writev(b)).bytesWritten, buffers),
      sync: () => fh.sync(),
      close: () => fh.close(),
    };
  },
  async openRead(path) {
    const fh = await fsp.open(path, 'r');
    const { size } = await fh.stat();
    return { ...readHandleOver(fh.fd, size), close: () => fh.close() };
  },
  rename: (from, to) => fsp.rename(from, to),
  link: (existing, newPath) => fsp.link(existing, newPath),
  async syncDir(dir) {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  remove: (path) => fsp.rm(path, { force: true }),
  list: (dir) => fsp.readdir(dir),
  mkdirp: async (dir) => {
    await fsp.mkdir(dir, { recursive: true }).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      // Node reports ENOENT when a missing parent cannot be created (a read-only volume, no
      // permission): creating the first missing ancestor on its own gives the real reason.
      let missing = dir;
      while (dirname(missing) !== missing && !(await fsp.stat(dirname(missing)).then(() => true, () => false))) missing = dirname(missing);
      await fsp.mkdir(missing);
      await fsp.mkdir(dir, { recursive: true });
    });
  },
  async removeEmptyDir(dir) {
    await fsp.rmdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST' && e.code !== 'ENOENT') throw e;
    });
  },
  async freeBytes(dir) {
    const st = await fsp.statfs(dir);
    return Number(st.bavail) * Number(st.bsize);
  },
};

/**
 * Reads through an open file descriptor, which this handle does not own: `close` leaves it
 * open. The fs storage's handles are built on it, and so are a worker thread's reads of a
 * file the main thread opened.
 */
export function readHandleOver(fd: number, size: number): ReadHandle {
  const readAt = (out: Uint8Array, at: number, length: number, position: number) => new Promise<number>((resolve, reject) => {
    fsRead(fd, out, at, length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead)));
  });
  return {
    size,
    fd,
    async read(offset, length, into) {
      // Uninitialized: every byte is overwritten (or the short read is reported).
      const out = into ? into.subarray(0, length) : allocUninitialized(length);
      let got = 0;
      while (got < length) {
        const bytesRead = await readAt(out, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === length ? out : out.subarray(0, got);
    },
    close: async () => undefined,
  };
}

let defaultStorage: Storage = fsStorage;

/** The storage used when an API is given none (the real filesystem unless replaced). */
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
export async function writeFileAtomic(storage: Storage, path: string, bytes: Uint8Array, tempPath: string): Promise<void> {
  await writeNewFile(storage, tempPath, bytes);
  try {
    await storage.rename(tempPath, path);
  } catch (e) {
    await storage.remove(tempPath).catch(() => undefined);
    throw e;
  }
  await storage.syncDir(dirname(path));
}

/** Creates `path` holding `bytes`, durably (EEXIST if it exists); a failed write removes it again. */
export async function writeNewFile(storage: Storage, path: string, bytes: Uint8Array): Promise<void> {
  const handle = await storage.createExclusive(path);
  try {
    await handle.write([bytes]);
    await handle.sync();
    await handle.close();
  } catch (e) {
    await handle.close().catch(() => undefined);
    await storage.remove(path).catch(() => undefined);
    throw e;
  }
}

/** Reads a whole (small) file, or null when it does not exist. */
export async function readFileIfExists(storage: Storage, path: string): Promise<Uint8Array | null> {
  let handle: ReadHandle;
  try {
    handle = await storage.openRead(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    return await handle.read(0, handle.size);
  } finally {
    await handle.close();
  }
}
