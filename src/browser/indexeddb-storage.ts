/**
 * A Storage in one IndexedDB database, for pages. Each file is a record keyed by its path
 * that names the file's contents (an id and a size); the contents are records of CHUNK_BYTES
 * each, keyed by [id, index], in a store of their own; each directory is a record too. So a
 * file is never one value held whole: a write keeps one chunk in memory, a read fetches only
 * the chunks it covers (tfjs ran out of memory putting a 2 GB model in one record, tfjs#7702).
 *
 * A file's size, which decides what readers see, changes only when it is synced or closed, in
 * one durable transaction (`durability: 'strict'`) with its last chunk; the full chunks before
 * it are written as they fill, in relaxed transactions that the strict one makes durable (one
 * log for the database). A rename is one transaction that points the new name at the contents
 * and deletes the old name, so a checkpoint (written to a temporary name, then renamed) and a
 * manifest commit appear whole or not at all, as on a file system. A file replaced or removed
 * while a handle reads it fails that handle's next read (ENOENT) instead of mixing versions.
 * Files written by version 1 of this storage (one record of bytes) are still read, renamed and
 * removed. Paths are POSIX-like ('runs/mlp/backup').
 */
import { dirname, normalize } from '../paths.js';
import type { ReadHandle, Storage, WriteHandle } from '../storage/storage.js';
import { errno, fromDom, fromDomWithQuota } from './errors.js';
import { readHandleOverBytes } from './read-handle.js';

const FILES = 'files';
const CHUNKS = 'chunks';
const DIRS = 'dirs';
/** Bytes of a file per chunk record: what a write holds and a read fetches at least. */
const CHUNK_BYTES = 4 << 20;
/** Chunks a read handle keeps: pieces read in order, a few in flight, each fetch a chunk once. */
const CACHED_CHUNKS = 2;

/** What a path's record holds: where its contents are. Version 1 stored the bytes themselves. */
interface FileRecord {
  id: string;
  size: number;
}
type StoredFile = FileRecord | Uint8Array;

const key = (path: string) => normalize(path).replace(/^\/+/, '').replace(/\/+$/, '');
const chunksOf = (id: string) => IDBKeyRange.bound([id, 0], [id, Infinity]);
const newId = () =>
  typeof crypto !== 'undefined' && 'randomUUID' in crypto
    ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

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

type Stores = { files: IDBObjectStore; chunks: IDBObjectStore; dirs: IDBObjectStore };

export class IndexedDBStorage implements Storage {
  /** Bytes of a file per record (the last one holds the rest). */
  static readonly chunkBytes = CHUNK_BYTES;
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
      const r = indexedDB.open(this.name, 2);
      r.onupgradeneeded = () => {
        for (const store of [FILES, CHUNKS, DIRS])
          if (!r.result.objectStoreNames.contains(store)) r.result.createObjectStore(store);
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

  /** Runs `body` in one transaction over every store; resolves once it committed (durably, unless relaxed). */
  private async transact<T>(
    mode: IDBTransactionMode,
    path: string,
    body: (stores: Stores) => Promise<T>,
    durability: IDBTransactionDurability = 'strict',
  ): Promise<T> {
    const db = await this.open();
    const tx = db.transaction([FILES, CHUNKS, DIRS], mode, { durability });
    const committed = done(tx);
    try {
      const result = await body({
        files: tx.objectStore(FILES),
        chunks: tx.objectStore(CHUNKS),
        dirs: tx.objectStore(DIRS),
      });
      await committed;
      return result;
    } catch (e) {
      committed.catch(() => undefined);
      try {
        tx.abort();
      } catch {
        /* already finished */
      }
      // Our own errno errors pass; a DOMException (whose `code` is a legacy number: 22 for a full quota) is mapped.
      throw typeof (e as { code?: unknown }).code === 'string' ? e : await fromDomWithQuota(e, path);
    }
  }

  private async requireDir(dirs: IDBObjectStore, path: string): Promise<void> {
    const dir = key(dirname(path));
    if (dir !== '' && dir !== '.' && (await request(dirs.count(dir))) === 0)
      throw errno('ENOENT', path, 'no such directory');
  }

  /** Deletes the contents a path's record names (its chunks; a version-1 record holds its own). */
  private static async dropContents(chunks: IDBObjectStore, stored: StoredFile | undefined): Promise<void> {
    if (stored !== undefined && !(stored instanceof Uint8Array)) await request(chunks.delete(chunksOf(stored.id)));
  }

  async createExclusive(path: string): Promise<WriteHandle> {
    const k = key(path);
    const id = newId();
    await this.transact('readwrite', path, async ({ files, dirs }) => {
      await this.requireDir(dirs, k);
      if ((await request(files.count(k))) > 0 || (await request(dirs.count(k))) > 0)
        throw errno('EEXIST', path, 'file already exists');
      await request(files.add({ id, size: 0 } satisfies FileRecord, k));
    });
    // The chunk being filled (grown to CHUNK_BYTES as needed: a manifest never holds 4 MiB); chunks before it are in the database.
    let tail = new Uint8Array(0);
    let tailLength = 0;
    let tailIndex = 0;
    let size = 0;
    let persisted = 0;
    let closed = false;
    const stillThere = async (files: IDBObjectStore) => {
      const stored = (await request(files.get(k))) as StoredFile | undefined;
      if (stored === undefined || stored instanceof Uint8Array || stored.id !== id)
        throw errno('ENOENT', path, 'the file was removed while it was being written');
    };
    /** Puts chunk `index` (none: only the record, when the tail is empty) and, with `record`, the file's new size, durably. */
    const putChunk = (index: number, bytes: Uint8Array | Blob | null, record: FileRecord | null) =>
      this.transact(
        'readwrite',
        path,
        async ({ files, chunks }) => {
          await stillThere(files);
          const put = bytes ? request(chunks.put(bytes, [id, index])) : null;
          if (record) await request(files.put(record, k));
          await put;
        },
        record ? 'strict' : 'relaxed',
      );
    const persist = async () => {
      if (size === persisted) return;
      // A partial chunk goes in as a Blob of its own size: a view would store its 4 MiB buffer
      // (structured clone keeps a view's whole buffer), and a copy for every sync was garbage
      // the page held on to (+50 MiB in a 1.5 GB save).
      await putChunk(tailIndex, tailLength > 0 ? new Blob([tail.subarray(0, tailLength)]) : null, { id, size });
      persisted = size;
    };
    // One operation at a time: a sync that overlapped writes (the writer does not wait for its
    // syncs) stored a tail that changed under it, and counted bytes as synced that were not.
    let queue: Promise<void> = Promise.resolve();
    const inTurn = (op: () => Promise<void>): Promise<void> => {
      const run = queue.then(op);
      queue = run.catch(() => undefined);
      return run;
    };
    return {
      write: (buffers) =>
        inTurn(async () => {
          if (closed) throw errno('EBADF', path, 'write after close');
          for (const b of buffers) {
            for (let at = 0; at < b.length;) {
              const n = Math.min(b.length - at, CHUNK_BYTES - tailLength);
              if (tail.length < tailLength + n) {
                const grown = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(2 * tail.length, tailLength + n)));
                grown.set(tail.subarray(0, tailLength));
                tail = grown;
              }
              tail.set(b.subarray(at, at + n), tailLength);
              tailLength += n;
              size += n;
              at += n;
              if (tailLength < CHUNK_BYTES) continue;
              // Committed before the tail fills again: a chunk in flight beside the next one held 20 MiB more of the page's memory in a large save.
              await putChunk(tailIndex, tail, null);
              tailIndex += 1;
              tailLength = 0;
            }
          }
        }),
      sync: () => inTurn(persist),
      close: () =>
        inTurn(async () => {
          if (closed) return;
          closed = true;
          await persist();
        }),
    };
  }

  async openRead(path: string): Promise<ReadHandle> {
    const stored = await this.transact('readonly', path, async ({ files, dirs }) => {
      const k = key(path);
      const value = (await request(files.get(k))) as StoredFile | undefined;
      if (value === undefined) throw errno((await request(dirs.count(k))) > 0 ? 'EISDIR' : 'ENOENT', path);
      return value;
    });
    if (stored instanceof Uint8Array)
      return readHandleOverBytes(stored.length, async (offset, end) => stored.slice(offset, end));
    return this.chunkedReader(path, stored);
  }

  /** Reads of a chunked file: each read fetches the chunks it covers, a few kept for the reads that follow. */
  private chunkedReader(path: string, { id, size }: FileRecord): ReadHandle {
    const cache = new Map<number, Promise<Uint8Array>>();
    const chunk = (index: number): Promise<Uint8Array> => {
      let got = cache.get(index);
      if (got === undefined) {
        got = this.transact('readonly', path, async ({ chunks }) => {
          const stored = (await request(chunks.get([id, index]))) as Uint8Array | Blob | undefined;
          if (stored === undefined) throw errno('ENOENT', path, 'the file was replaced or removed while it was read');
          return stored;
        }).then(async (stored) => (stored instanceof Blob ? new Uint8Array(await stored.arrayBuffer()) : stored));
        cache.set(index, got);
        got.catch(() => cache.delete(index));
        if (cache.size > CACHED_CHUNKS) cache.delete(cache.keys().next().value!);
      }
      return got;
    };
    return {
      size,
      version: async () => `${id}:${size}`,
      async read(offset: number, length: number, into?: Uint8Array) {
        const end = Math.min(size, offset + length);
        const out = into ?? new Uint8Array(Math.max(0, end - offset));
        for (let at = offset; at < end;) {
          const index = Math.floor(at / CHUNK_BYTES);
          const bytes = await chunk(index);
          const from = at - index * CHUNK_BYTES;
          const n = Math.min(end - at, CHUNK_BYTES - from);
          if (bytes.length < from + n)
            throw errno('EIO', path, `chunk ${index} holds ${bytes.length} bytes, fewer than the file's size says`);
          out.set(bytes.subarray(from, from + n), at - offset);
          at += n;
        }
        return out.subarray(0, Math.max(0, end - offset));
      },
      close: async () => cache.clear(),
    };
  }

  async rename(from: string, to: string): Promise<void> {
    await this.transact('readwrite', from, async ({ files, chunks, dirs }) => {
      const value = (await request(files.get(key(from)))) as StoredFile | undefined;
      if (value === undefined) throw errno('ENOENT', from);
      if (key(from) === key(to)) return;
      await this.requireDir(dirs, to);
      if ((await request(dirs.count(key(to)))) > 0) throw errno('EISDIR', to);
      await IndexedDBStorage.dropContents(chunks, (await request(files.get(key(to)))) as StoredFile | undefined);
      await request(files.put(value, key(to)));
      await request(files.delete(key(from)));
    });
  }

  /** Transactions commit durably: there is no directory entry to sync. */
  async syncDir(): Promise<void> {}

  async remove(path: string): Promise<void> {
    await this.transact('readwrite', path, async ({ files, chunks }) => {
      await IndexedDBStorage.dropContents(chunks, (await request(files.get(key(path)))) as StoredFile | undefined);
      await request(files.delete(key(path)));
    });
  }

  async list(dir: string): Promise<string[]> {
    const d = key(dir);
    return this.transact('readonly', dir, async ({ files, dirs }) => {
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
    await this.transact('readwrite', dir, async ({ files, dirs }) => {
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
    await this.transact('readwrite', dir, async ({ files, dirs }) => {
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
