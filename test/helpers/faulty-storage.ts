/**
 * A Storage wrapper that fails on purpose, for proving that no fault loses a checkpoint:
 * the n-th operation (of the kinds chosen) fails with an errno such as ENOSPC, EIO or
 * EACCES. A failing write first writes part of its data (a torn write), as a full disk does.
 */
import type { ReadHandle, Storage, WriteHandle } from '../../src/storage/storage.js';

export type StorageOp = 'create' | 'write' | 'sync' | 'close' | 'rename' | 'link' | 'syncDir' | 'remove';

export interface FaultPlan {
  /** Fail the operation with this index (0-based, counting only `ops`); null = no fault. */
  failAt: number | null;
  code?: 'ENOSPC' | 'EIO' | 'EACCES' | 'EROFS';
  ops?: StorageOp[];
}

export class FaultyStorage implements Storage {
  /** Operations counted so far (of the kinds in the plan). */
  count = 0;
  /** Faults injected so far. */
  injected: string[] = [];

  /** Present where the base storage has hard links. */
  readonly link?: (existing: string, newPath: string) => Promise<void>;

  constructor(
    private readonly base: Storage,
    public plan: FaultPlan,
  ) {
    const link = base.link?.bind(base);
    if (link)
      this.link = async (existing, newPath) => {
        this.check('link', newPath);
        await link(existing, newPath);
      };
  }

  private check(op: StorageOp, path: string): void {
    const ops = this.plan.ops ?? ['create', 'write', 'sync', 'close', 'rename', 'link', 'syncDir', 'remove'];
    if (!ops.includes(op)) return;
    if (this.count++ !== this.plan.failAt) return;
    const code = this.plan.code ?? 'EIO';
    this.injected.push(`${op} ${path}: ${code}`);
    throw Object.assign(new Error(`${code}: injected fault on ${op} ${path}`), { code });
  }

  async createExclusive(path: string): Promise<WriteHandle> {
    this.check('create', path);
    const h = await this.base.createExclusive(path);
    return {
      write: async (buffers) => {
        try {
          this.check('write', path);
        } catch (e) {
          await h.write(buffers.slice(0, Math.ceil(buffers.length / 2)).map((b) => b.subarray(0, b.length >> 1))); // torn
          throw e;
        }
        await h.write(buffers);
      },
      sync: async () => {
        this.check('sync', path);
        await h.sync();
      },
      close: async () => {
        this.check('close', path);
        await h.close();
      },
    };
  }

  openRead(path: string): Promise<ReadHandle> {
    return this.base.openRead(path);
  }
  async rename(from: string, to: string) {
    this.check('rename', to);
    await this.base.rename(from, to);
  }
  async syncDir(dir: string) {
    this.check('syncDir', dir);
    await this.base.syncDir(dir);
  }
  async remove(path: string) {
    this.check('remove', path);
    await this.base.remove(path);
  }
  list(dir: string) {
    return this.base.list(dir);
  }
  mkdirp(dir: string) {
    return this.base.mkdirp(dir);
  }
  async removeEmptyDir(dir: string) {
    await this.base.removeEmptyDir?.(dir);
  }
  freeBytes(dir: string) {
    return this.base.freeBytes?.(dir) ?? Promise.resolve(Number.MAX_SAFE_INTEGER);
  }
}
