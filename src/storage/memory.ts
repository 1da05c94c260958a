import type { Storage } from './storage.js';

/**
 * Storage in memory: whole files as byte arrays, renames atomic by construction, hard links
 * as two names for one array, and a log
 * of every read (tests use it to bound what a reader asks for). Also a start for browser use.
 */
export class MemoryStorage implements Storage {
  files = new Map<string, Uint8Array>();
  reads: Array<{ path: string; offset: number; length: number }> = [];

  async createExclusive(path: string) {
    const errno = (code: string) => Object.assign(new Error(`${code}: ${path}`), { code });
    if (this.files.has(path)) throw errno('EEXIST');
    const chunks: Uint8Array[] = [];
    this.files.set(path, new Uint8Array(0));
    return {
      write: async (buffers: Uint8Array[]) => { chunks.push(...buffers.map((b) => b.slice())); },
      sync: async () => { this.files.set(path, concat(chunks)); },
      close: async () => { this.files.set(path, concat(chunks)); },
    };
  }

  async openRead(path: string) {
    const bytes = this.files.get(path);
    if (bytes === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
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
    if (bytes === undefined) throw Object.assign(new Error(`ENOENT: ${from}`), { code: 'ENOENT' });
    this.files.delete(from);
    this.files.set(to, bytes);
  }

  async link(existing: string, newPath: string) {
    const bytes = this.files.get(existing);
    if (bytes === undefined) throw Object.assign(new Error(`ENOENT: ${existing}`), { code: 'ENOENT' });
    if (this.files.has(newPath)) throw Object.assign(new Error(`EEXIST: ${newPath}`), { code: 'EEXIST' });
    this.files.set(newPath, bytes);
  }

  async syncDir() {}
  async remove(path: string) { this.files.delete(path); }
  /** The files in `dir` and, as a file system lists them, the sub-directories that hold files. */
  async list(dir: string) {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    return [...new Set([...this.files.keys()].filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length).split('/')[0]))];
  }
  async mkdirp() {}
  async freeBytes() { return Number.MAX_SAFE_INTEGER; }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}
