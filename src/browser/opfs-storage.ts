/**
 * A Storage in the origin private file system (OPFS) of a page: real files and directories
 * under `navigator.storage.getDirectory()`, or a directory within it. A file is written
 * through one writable stream, whose contents replace the file only when it closes; a rename
 * moves the file into place (`FileSystemFileHandle.move`). So a checkpoint, written to a
 * temporary file and then renamed, appears whole or not at all, as on a disk.
 */
import { basename, dirname, normalize } from '../paths.js';
import type { ReadHandle, Storage, WriteHandle } from '../storage/storage.js';
import { errno, fromDom, fromDomWithQuota } from './errors.js';
import { readHandleOverBytes } from './read-handle.js';

/** What Chromium's OPFS handles offer beyond the typed DOM library. */
interface MovableFileHandle extends FileSystemFileHandle {
  move(parent: FileSystemDirectoryHandle, name: string): Promise<void>;
}
interface IterableDirectory extends FileSystemDirectoryHandle {
  keys(): AsyncIterableIterator<string>;
}

const parts = (path: string) =>
  normalize(path)
    .split('/')
    .filter((p) => p !== '' && p !== '.');

export class OPFSStorage implements Storage {
  readonly lockScope: string;
  private root: Promise<FileSystemDirectoryHandle> | null = null;

  /** Files under `base` (a directory of the origin's private file system, made on first use; default its root). */
  constructor(readonly base = '') {
    this.lockScope = `opfs:${parts(base).join('/')}`;
  }

  private async top(): Promise<FileSystemDirectoryHandle> {
    this.root ??= (async () => {
      if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory)
        throw errno('ENOSYS', this.base, 'this platform has no origin private file system');
      let dir = await navigator.storage.getDirectory();
      for (const p of parts(this.base)) dir = await dir.getDirectoryHandle(p, { create: true });
      return dir;
    })();
    return this.root;
  }

  /** The directory `path` names (every component must exist, unless `create`). */
  private async dir(path: string, create = false): Promise<FileSystemDirectoryHandle> {
    let dir = await this.top();
    for (const p of parts(path)) {
      try {
        dir = await dir.getDirectoryHandle(p, { create });
      } catch (e) {
        throw fromDom(e, path);
      }
    }
    return dir;
  }

  private async file(path: string): Promise<FileSystemFileHandle> {
    const parent = await this.dir(dirname(path));
    try {
      return await parent.getFileHandle(basename(path));
    } catch (e) {
      throw fromDom(e, path);
    }
  }

  private async exists(parent: FileSystemDirectoryHandle, name: string): Promise<boolean> {
    for await (const n of (parent as IterableDirectory).keys()) if (n === name) return true;
    return false;
  }

  async createExclusive(path: string): Promise<WriteHandle> {
    const parent = await this.dir(dirname(path));
    if (await this.exists(parent, basename(path))) throw errno('EEXIST', path, 'file already exists');
    const handle = await parent.getFileHandle(basename(path), { create: true }).catch((e) => {
      throw fromDom(e, path);
    });
    const writable = await handle.createWritable({ keepExistingData: false }).catch((e) => {
      throw fromDom(e, path);
    });
    let closed = false;
    return {
      write: async (buffers) => {
        try {
          for (const b of buffers) await writable.write(b as Uint8Array<ArrayBuffer>);
        } catch (e) {
          throw await fromDomWithQuota(e, path);
        }
      },
      // The stream's data reaches the file when it closes, all at once: that is this storage's sync.
      sync: async () => undefined,
      close: async () => {
        if (closed) return;
        closed = true;
        await writable.close().catch(async (e) => {
          throw await fromDomWithQuota(e, path);
        });
      },
    };
  }

  async openRead(path: string): Promise<ReadHandle> {
    const file = await (await this.file(path)).getFile().catch((e) => {
      throw fromDom(e, path);
    });
    return readHandleOverBytes(
      file.size,
      async (offset, end) => new Uint8Array(await file.slice(offset, end).arrayBuffer()),
    );
  }

  async rename(from: string, to: string): Promise<void> {
    const source = (await this.file(from)) as MovableFileHandle;
    const target = await this.dir(dirname(to));
    try {
      await source.move(target, basename(to));
    } catch (e) {
      throw fromDom(e, from);
    }
  }

  /** A closed file's contents are committed: there is no directory entry to sync. */
  async syncDir(): Promise<void> {}

  async remove(path: string): Promise<void> {
    let parent: FileSystemDirectoryHandle;
    try {
      parent = await this.dir(dirname(path));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return;
      throw e;
    }
    await parent.removeEntry(basename(path)).catch((e: DOMException) => {
      if (e.name !== 'NotFoundError') throw fromDom(e, path);
    });
  }

  async list(dir: string): Promise<string[]> {
    const names: string[] = [];
    for await (const n of ((await this.dir(dir)) as IterableDirectory).keys()) names.push(n);
    return names.sort();
  }

  async mkdirp(dir: string): Promise<void> {
    await this.dir(dir, true);
  }

  async removeEmptyDir(dir: string): Promise<void> {
    const parent = await this.dir(dirname(dir)).catch(() => null);
    // Without `recursive`, removing a directory that is not empty fails: that leaves it, as asked.
    await parent?.removeEntry(basename(dir)).catch(() => undefined);
  }

  async freeBytes(): Promise<number> {
    const estimate = await navigator.storage.estimate();
    return estimate.quota !== undefined ? estimate.quota - (estimate.usage ?? 0) : Infinity;
  }
}
