/**
 * A Storage in one IndexedDB database, for pages: each file a record (its bytes) keyed by
 * its path, each directory a record of its own. A file's bytes are written in one
 * transaction when it is synced or closed, and a rename is one transaction that writes the
 * new name and deletes the old, so a checkpoint (written to a temporary name, then renamed)
 * and a manifest commit appear whole or not at all, as on a file system; a transaction that
 * commits with `durability: 'strict'` is on disk. Paths are POSIX-like ('runs/mlp/backup').
 */
import { dirname, normalize } from '../paths.js';
import type { ReadHandle, Storage, WriteHandle } from '../storage/storage.js';
import { errno, fromDom } from './errors.js';
import { readHandleOverBytes } from './read-handle.js';

const FILES = 'files';
const DIRS = 'dirs';

const key = (path: string) => normalize(path).replace(/^\/+/, '').replace(/\/+$/, '');

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'));
  });
}

export class IndexedDBStorage implements Storage {
  readonly lockScope: string;
  private db: Promise<IDBDatabase> | null = null;

  /** Files in the IndexedDB database `name` of this origin (made on first use). */
  constructor(readonly name = 'waypoint') {
    this.lockScope = `indexeddb:${name}`;
  }

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise((resolve, reject) => {
      if (typeof indexedDB === 'undefined') {
        reject(errno('ENOSYS', this.name, 'this platform has no IndexedDB'));
        return;
      }
      const r = indexedDB.open(this.name, 1);
      r.onupgradeneeded = () => {
        r.result.createObjectStore(FILES);
        r.result.createObjectStore(DIRS);
      };
      r.onsuccess = () => {
        // Another page deleting or upgrading the database: let it (this storage reopens on next use).
        r.result.onversionchange = () => {
          r.result.close();
          this.db = null;
        };
        resolve(r.result);
      };
      r.onerror = () => reject(fromDom(r.error, this.name));
      r.onblocked = () =>
        reject(errno('EBUSY', this.name, 'another page holds an older version of this database open'));
    });
    return this.db;
  }

  /** Runs `body` in one transaction over both stores; resolves once it committed durably. */
  private async transact<T>(
    mode: IDBTransactionMode,
    path: string,
    body: (files: IDBObjectStore, dirs: IDBObjectStore) => Promise<T>,
  ): Promise<T> {
    const db = await this.open();
    const tx = db.transaction([FILES, DIRS], mode, { durability: 'strict' });
    const committed = done(tx);
    try {
      const result = await body(tx.objectStore(FILES), tx.objectStore(DIRS));
      await committed;
      return result;
    } catch (e) {
      committed.catch(() => undefined);
      try {
        tx.abort();
      } catch {
        /* already finished */
      }
      throw (e as { code?: string }).code ? e : fromDom(e, path);
    }
  }

  private async requireDir(dirs: IDBObjectStore, path: string): Promise<void> {
    const dir = key(dirname(path));
    if (dir !== '' && dir !== '.' && (await request(dirs.count(dir))) === 0)
      throw errno('ENOENT', path, 'no such directory');
  }

  async createExclusive(path: string): Promise<WriteHandle> {
    const k = key(path);
    await this.transact('readwrite', path, async (files, dirs) => {
      await this.requireDir(dirs, k);
      if ((await request(files.count(k))) > 0 || (await request(dirs.count(k))) > 0)
        throw errno('EEXIST', path, 'file already exists');
      await request(files.add(new Uint8Array(0), k));
    });
    const chunks: Uint8Array[] = [];
    let closed = false;
    // Written since the last persist: a close after a sync writes nothing again.
    let dirty = false;
    const persist = async () => {
      if (!dirty) return;
      dirty = false;
      await this.transact('readwrite', path, async (files) => {
        if ((await request(files.count(k))) === 0)
          throw errno('ENOENT', path, 'the file was removed while it was being written');
        await request(files.put(concat(chunks), k));
      });
    };
    return {
      write: async (buffers) => {
        if (closed) throw errno('EBADF', path, 'write after close');
        for (const b of buffers) chunks.push(b.slice());
        dirty = true;
      },
      sync: persist,
      close: async () => {
        if (closed) return;
        closed = true;
        await persist();
      },
    };
  }

  async openRead(path: string): Promise<ReadHandle> {
    const bytes = await this.transact('readonly', path, async (files, dirs) => {
      const k = key(path);
      const value = (await request(files.get(k))) as Uint8Array | undefined;
      if (value === undefined) throw errno((await request(dirs.count(k))) > 0 ? 'EISDIR' : 'ENOENT', path);
      return value;
    });
    return readHandleOverBytes(bytes.length, async (offset, end) => bytes.slice(offset, end));
  }

  async rename(from: string, to: string): Promise<void> {
    await this.transact('readwrite', from, async (files, dirs) => {
      const value = await request(files.get(key(from)));
      if (value === undefined) throw errno('ENOENT', from);
      await this.requireDir(dirs, to);
      if ((await request(dirs.count(key(to)))) > 0) throw errno('EISDIR', to);
      await request(files.put(value, key(to)));
      await request(files.delete(key(from)));
    });
  }

  /** Transactions commit durably: there is no directory entry to sync. */
  async syncDir(): Promise<void> {}

  async remove(path: string): Promise<void> {
    await this.transact('readwrite', path, async (files) => {
      await request(files.delete(key(path)));
    });
  }

  async list(dir: string): Promise<string[]> {
    const d = key(dir);
    return this.transact('readonly', dir, async (files, dirs) => {
      if (d !== '' && d !== '.' && (await request(dirs.count(d))) === 0)
        throw errno('ENOENT', dir, 'no such directory');
      const prefix = d === '' || d === '.' ? '' : `${d}/`;
      const range = prefix ? IDBKeyRange.bound(prefix, `${prefix}\uffff`) : undefined;
      const names = new Set<string>();
      for (const store of [files, dirs]) {
        for (const k of (await request(store.getAllKeys(range))) as string[])
          names.add(k.slice(prefix.length).split('/')[0]);
      }
      names.delete('');
      return [...names].sort();
    });
  }

  async mkdirp(dir: string): Promise<void> {
    const d = key(dir);
    if (d === '' || d === '.') return;
    await this.transact('readwrite', dir, async (files, dirs) => {
      const parts = d.split('/');
      for (let i = 1; i <= parts.length; i++) {
        const sub = parts.slice(0, i).join('/');
        if ((await request(files.count(sub))) > 0)
          throw errno(i === parts.length ? 'EEXIST' : 'ENOTDIR', sub, 'a file is in the way');
        await request(dirs.put(true, sub));
      }
    });
  }

  async removeEmptyDir(dir: string): Promise<void> {
    const d = key(dir);
    await this.transact('readwrite', dir, async (files, dirs) => {
      const range = IDBKeyRange.bound(`${d}/`, `${d}/\uffff`);
      if ((await request(files.count(range))) + (await request(dirs.count(range))) === 0) await request(dirs.delete(d));
    });
  }

  async freeBytes(): Promise<number> {
    const estimate = await navigator.storage?.estimate?.();
    return estimate?.quota !== undefined ? estimate.quota - (estimate.usage ?? 0) : Infinity;
  }

  /** Deletes the whole database (every file in it). */
  async destroy(): Promise<void> {
    (await this.db)?.close();
    this.db = null;
    await request(indexedDB.deleteDatabase(this.name));
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
