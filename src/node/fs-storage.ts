/**
 * The real file system as a Storage: exclusive creates, fsync of files and directories,
 * atomic renames, hard links, free space, and the synchronous calls a lock check, an exit
 * hook and TensorBoard's appends need.
 */
import {
  read as fsRead,
  promises as fsp,
  constants as fsConstants,
  openSync,
  writeSync,
  fsyncSync,
  closeSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { dirname } from '../paths.js';
import { type ReadHandle, type Storage, type WriteHandle, writeFully } from '../storage/storage.js';
import { allocUninitialized } from './platform.js';

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
    const version = async () => {
      const st = await fh.stat({ bigint: true });
      return `${st.ino}:${st.size}:${st.ctimeNs}:${st.mtimeNs}`;
    };
    return { ...readHandleOver(fh.fd, size), version, close: () => fh.close() };
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
      while (
        dirname(missing) !== missing &&
        !(await fsp.stat(dirname(missing)).then(
          () => true,
          () => false,
        ))
      )
        missing = dirname(missing);
      await fsp.mkdir(missing);
      await fsp.mkdir(dir, { recursive: true });
    });
  },
  async removeEmptyDir(dir) {
    // ENOTDIR: `dir` is a symbolic link to a directory (the user's, not an empty directory of ours).
    await fsp.rmdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST' && e.code !== 'ENOENT' && e.code !== 'ENOTDIR') throw e;
    });
  },
  async freeBytes(dir) {
    const st = await fsp.statfs(dir);
    return Number(st.bavail) * Number(st.bsize);
  },
  createSynchronous: (path) => synchronousHandle(path),
  readSync(path) {
    try {
      return readFileSync(path);
    } catch {
      return null;
    }
  },
  removeSync: (path) => rmSync(path, { force: true }),
};

/**
 * Reads through an open file descriptor, which this handle does not own: `close` leaves it
 * open. The fs storage's handles are built on it, and so are a worker thread's reads of a
 * file the main thread opened.
 */
export function readHandleOver(fd: number, size: number): ReadHandle {
  const readAt = (out: Uint8Array, at: number, length: number, position: number) =>
    new Promise<number>((resolve, reject) => {
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

/** A file created exclusively and appended to with synchronous writes. */
function synchronousHandle(path: string): WriteHandle {
  const fd = openSync(path, 'wx', 0o644);
  return {
    async write(buffers) {
      for (const b of buffers) for (let at = 0; at < b.length;) at += writeSync(fd, b, at);
    },
    async sync() {
      fsyncSync(fd);
    },
    async close() {
      closeSync(fd);
    },
  };
}
