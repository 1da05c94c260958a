import { dirname } from '../paths.js';
import type { Storage } from './storage.js';

const errno = (code: string, path: string) => Object.assign(new Error(`${code}: ${path}`), { code });

/**
 * Storage in memory: whole files as byte arrays, directories as a file system has them (made
 * by mkdirp, or holding a file), renames atomic by construction, hard links as two names for
 * one array, and a log of every read (tests use it to bound what a reader asks for). Also a
 * start for browser use. It keeps the Storage contract (src/testing/storage-contract.ts).
 */
export class MemoryStorage implements Storage {
  files = new Map<string, Uint8Array>();
  reads: Array<{ path: string; offset: number; length: number }> = [];
  /** Directories made by mkdirp (a directory also exists while it holds a file). */
  private readonly dirs = new Set<string>();

  private isDir(dir: string): boolean {
    if (dir === '.' || dir === '/' || dir === '' || this.dirs.has(dir)) return true;
    const prefix = `${dir}/`;
    for (const p of this.files.keys()) if (p.startsWith(prefix)) return true;
    return false;
  }

  private checkParent(path: string): void {
    if (!this.isDir(dirname(path))) throw errno('ENOENT', path);
    if (this.isDir(path) && !this.files.has(path)) throw errno('EISDIR', path);
  }

  async createExclusive(path: string) {
    if (this.files.has(path)) throw errno('EEXIST', path);
    this.checkParent(path);
    const chunks: Uint8Array[] = [];
    this.files.set(path, new Uint8Array(0));
    return {
      write: async (buffers: Uint8Array[]) => {
        chunks.push(...buffers.map((b) => b.slice()));
      },
      sync: async () => {
        this.files.set(path, concat(chunks));
      },
      close: async () => {
        this.files.set(path, concat(chunks));
      },
    };
  }

  async openRead(path: string) {
    const bytes = this.files.get(path);
    if (bytes === undefined) throw errno(this.isDir(path) ? 'EISDIR' : 'ENOENT', path);
    return {
      size: bytes.length,
      read: async (offset: number, length: number, into?: Uint8Array) => {
        this.reads.push({ path, offset, length });
        const found = bytes.subarray(offset, offset + length);
        if (!into) return found.slice();
        into.set(found);
        return into.subarray(0, found.length);
      },
      close: async () => undefined,
    };
  }

  async rename(from: string, to: string) {
    const bytes = this.files.get(from);
    if (bytes === undefined) throw errno('ENOENT', from);
    this.checkParent(to);
    this.files.delete(from);
    this.files.set(to, bytes);
  }

  async link(existing: string, newPath: string) {
    const bytes = this.files.get(existing);
    if (bytes === undefined) throw errno('ENOENT', existing);
    if (this.files.has(newPath)) throw errno('EEXIST', newPath);
    this.checkParent(newPath);
    this.files.set(newPath, bytes);
  }

  async syncDir() {}
  async remove(path: string) {
    this.files.delete(path);
  }

  /** The files and directories in `dir` (ENOENT if it is none). */
  async list(dir: string) {
    if (!this.isDir(dir)) throw errno('ENOENT', dir);
    // The root of relative paths ('.') holds them all.
    const prefix = dir === '.' || dir === '' ? '' : dir.endsWith('/') ? dir : `${dir}/`;
    const below = [...this.files.keys(), ...this.dirs].filter((p) => p.startsWith(prefix));
    return [...new Set(below.map((p) => p.slice(prefix.length).split('/')[0]).filter((n) => n !== ''))];
  }

  async mkdirp(dir: string) {
    if (this.files.has(dir)) throw errno('EEXIST', dir);
    for (let d = dir; d !== '.' && d !== '/' && d !== '' && !this.dirs.has(d); d = dirname(d)) this.dirs.add(d);
  }

  async removeEmptyDir(dir: string) {
    if ((await this.list(dir).catch(() => [])).length === 0) this.dirs.delete(dir);
  }

  async freeBytes() {
    return Number.MAX_SAFE_INTEGER;
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
