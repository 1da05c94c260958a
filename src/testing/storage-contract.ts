/**
 * The Storage contract: every rule a Storage must keep for checkpoints to be crash-safe on
 * it, as plain async checks (they throw, naming the rule and what was seen), so that the same
 * rules run under vitest (`storageContract`, src/testing/index.ts) and in a browser page.
 * Each rule gets a storage and a fresh directory to work in (made with mkdirp first).
 */
import { join } from '../paths.js';
import type { Storage } from '../storage/storage.js';
import { writeFileAtomic } from '../storage/storage.js';
import { tempPathFor } from '../storage/temp-names.js';
import { readWpt } from '../checkpoint/format/reader.js';
import { writeWpt } from '../checkpoint/format/writer.js';
import { Tensor } from '../tensor/tensor.js';
import { MemoryStorage } from '../storage/memory.js';

export interface StorageRule {
  name: string;
  check(storage: Storage, dir: string): Promise<void>;
}

class ContractViolation extends Error {}

function expectThat(ok: boolean, what: string): void {
  if (!ok) throw new ContractViolation(what);
}

/** The error code a promise rejects with ('ok' when it resolves). */
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e?.code ?? String(e),
  );

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

async function write(storage: Storage, path: string, data: Uint8Array): Promise<void> {
  const h = await storage.createExclusive(path);
  await h.write([data.subarray(0, 3), data.subarray(3)]);
  await h.sync();
  await h.close();
}

async function readAll(storage: Storage, path: string): Promise<Uint8Array> {
  const h = await storage.openRead(path);
  try {
    return (await h.read(0, h.size)).slice();
  } finally {
    await h.close();
  }
}

export const STORAGE_RULES: StorageRule[] = [
  {
    name: 'createExclusive writes a new file whole (buffers in order) and refuses an existing one with EEXIST',
    async check(s, dir) {
      const path = join(dir, 'a.bin');
      await write(s, path, bytes(1000, 1));
      expectThat(same(await readAll(s, path), bytes(1000, 1)), 'the bytes read back differ from those written');
      const again = await outcome(s.createExclusive(path));
      expectThat(again === 'EEXIST', `a second createExclusive gave ${again}, not EEXIST`);
      expectThat(same(await readAll(s, path), bytes(1000, 1)), 'the refused create changed the file');
    },
  },
  {
    name: 'a missing file, or a missing parent directory, is ENOENT; removing a missing file is not an error',
    async check(s, dir) {
      const read = await outcome(s.openRead(join(dir, 'none.bin')));
      expectThat(read === 'ENOENT', `openRead of a missing file gave ${read}`);
      const create = await outcome(s.createExclusive(join(dir, 'nodir', 'x.bin')));
      expectThat(create === 'ENOENT', `createExclusive in a missing directory gave ${create}`);
      const list = await outcome(s.list(join(dir, 'nodir')));
      expectThat(list === 'ENOENT', `list of a missing directory gave ${list}`);
      const remove = await outcome(s.remove(join(dir, 'none.bin')));
      expectThat(remove === 'ok', `remove of a missing file gave ${remove}`);
    },
  },
  {
    name: 'ranged reads return exactly the bytes asked for, into a given array too, and fewer only at the end',
    async check(s, dir) {
      const path = join(dir, 'r.bin');
      const data = bytes(1000, 7);
      await write(s, path, data);
      const h = await s.openRead(path);
      try {
        expectThat(h.size === 1000, `size is ${h.size}, not 1000`);
        expectThat(same(await h.read(10, 5), data.subarray(10, 15)), 'read(10, 5) gave other bytes');
        const into = new Uint8Array(8);
        const tail = await h.read(996, 8, into);
        expectThat(
          tail.length === 4 && same(tail, data.subarray(996)),
          `read(996, 8) gave ${tail.length} bytes, not the last 4`,
        );
        expectThat(same(into.subarray(0, 4), data.subarray(996)), 'read into an array did not fill it');
        expectThat((await h.read(0, 1000)).length === 1000, 'a whole read came back short');
      } finally {
        await h.close();
      }
    },
  },
  {
    name: 'rename replaces an existing target atomically, and the source name is gone',
    async check(s, dir) {
      const [a, b] = [join(dir, 'a.bin'), join(dir, 'b.bin')];
      await write(s, a, bytes(100, 1));
      await write(s, b, bytes(10, 2));
      await s.rename(b, a);
      expectThat(same(await readAll(s, a), bytes(10, 2)), 'the target does not hold the renamed bytes');
      const gone = await outcome(s.openRead(b));
      expectThat(gone === 'ENOENT', `the source still opens after the rename (${gone})`);
    },
  },
  {
    name: 'list names the files and directories of a directory, once each; mkdirp makes every parent',
    async check(s, dir) {
      await s.mkdirp(join(dir, 'sub', 'deeper'));
      await write(s, join(dir, 'f.bin'), bytes(4, 0));
      await write(s, join(dir, 'sub', 'g.bin'), bytes(4, 0));
      const names = (await s.list(dir)).sort();
      expectThat(names.join() === 'f.bin,sub', `list gave [${names.join(', ')}], not [f.bin, sub]`);
      const deeper = await s.list(join(dir, 'sub', 'deeper'));
      expectThat(deeper.length === 0, `a new directory lists [${deeper.join(', ')}]`);
      await s.mkdirp(join(dir, 'sub')); // again: no error
    },
  },
  {
    name: 'removeEmptyDir removes an empty directory and leaves one that holds anything',
    async check(s, dir) {
      if (!s.removeEmptyDir) return; // storages without directories may omit it
      await s.mkdirp(join(dir, 'sub', 'deeper'));
      await write(s, join(dir, 'sub', 'g.bin'), bytes(4, 0));
      await s.removeEmptyDir(join(dir, 'sub'));
      expectThat((await s.list(dir)).includes('sub'), 'a directory holding files was removed');
      await s.removeEmptyDir(join(dir, 'sub', 'deeper'));
      expectThat(!(await s.list(join(dir, 'sub'))).includes('deeper'), 'an empty directory was not removed');
    },
  },
  {
    name: 'sync and syncDir resolve, and what was synced reads back before and after close',
    async check(s, dir) {
      const path = join(dir, 's.bin');
      const h = await s.createExclusive(path);
      await h.write([bytes(64, 3)]);
      await h.sync();
      await h.write([bytes(64, 4)]);
      await h.sync();
      await h.close();
      await s.syncDir(dir);
      const back = await readAll(s, path);
      expectThat(
        same(back.subarray(0, 64), bytes(64, 3)) && same(back.subarray(64), bytes(64, 4)),
        'appends after a sync were lost or reordered',
      );
    },
  },
  {
    name: 'freeBytes, where the storage has it, is a finite number of bytes, not negative',
    async check(s, dir) {
      if (!s.freeBytes) return;
      const free = await s.freeBytes(dir);
      expectThat(Number.isFinite(free) && free >= 0, `freeBytes gave ${free}`);
    },
  },
  {
    name: 'a write interrupted before its rename leaves the old file whole and no temporary file',
    async check(s, dir) {
      const path = join(dir, 'atomic.bin');
      await writeFileAtomic(s, path, bytes(50, 5), tempPathFor(path));
      const failing: Storage = {
        createExclusive: (p) => s.createExclusive(p),
        openRead: (p) => s.openRead(p),
        syncDir: (d) => s.syncDir(d),
        remove: (p) => s.remove(p),
        list: (d) => s.list(d),
        mkdirp: (d) => s.mkdirp(d),
        rename: async () => {
          throw Object.assign(new Error('EIO: the rename failed'), { code: 'EIO' });
        },
      };
      const r = await outcome(writeFileAtomic(failing, path, bytes(80, 6), tempPathFor(path)));
      expectThat(r === 'EIO', `the failed write gave ${r}`);
      expectThat(same(await readAll(s, path), bytes(50, 5)), 'the old file changed');
      const left = (await s.list(dir)).filter((n) => n !== 'atomic.bin');
      expectThat(left.length === 0, `left behind: ${left.join(', ')}`);
    },
  },
  {
    name: 'createAtomic, where the storage has it: nothing appears before close, the whole file after; an abort leaves the old file',
    async check(s, dir) {
      if (!s.createAtomic) return;
      const path = join(dir, 'atomic.bin');
      const first = await s.createAtomic(path);
      await first.write([bytes(300, 1)]);
      const before = await outcome(s.openRead(path));
      expectThat(before === 'ENOENT', `a file being written opened before its close (${before})`);
      await first.close();
      expectThat(same(await readAll(s, path), bytes(300, 1)), 'the published file differs from what was written');
      const second = await s.createAtomic(path);
      await second.write([bytes(500, 2)]);
      await second.abort();
      expectThat(same(await readAll(s, path), bytes(300, 1)), 'an aborted write changed the file');
      expectThat(
        (await s.list(dir)).join() === 'atomic.bin',
        `left beside the file: ${(await s.list(dir)).join(', ')}`,
      );
    },
  },
  {
    name: 'conditional writes, where the storage enforces them: If-None-Match refuses an existing file (EEXIST), If-Match a replaced one (ECONFLICT)',
    async check(s, dir) {
      if (!s.createAtomic || !(await s.conditionalWrites?.())) return;
      const path = join(dir, 'manifest.json');
      const publish = async (data: Uint8Array, condition: { ifAbsent?: boolean; ifVersion?: string }) => {
        const h = await s.createAtomic!(path, condition);
        await h.write([data]);
        await h.close();
        return h.version;
      };
      const v1 = await publish(bytes(20, 1), { ifAbsent: true });
      expectThat(typeof v1 === 'string', 'a conditional write returned no version');
      const again = await outcome(publish(bytes(20, 2), { ifAbsent: true }));
      expectThat(again === 'EEXIST', `a second create-only write gave ${again}`);
      const v2 = await publish(bytes(20, 3), { ifVersion: v1! });
      const stale = await outcome(publish(bytes(20, 4), { ifVersion: v1! }));
      expectThat(stale === 'ECONFLICT', `a write over a replaced version gave ${stale}`);
      expectThat(same(await readAll(s, path), bytes(20, 3)), 'a refused write changed the file');
      const h = await s.openRead(path);
      const read = await h.version?.();
      await h.close();
      expectThat(read === v2, `the version read (${read}) is not the one written (${v2})`);
    },
  },
  {
    name: 'a checkpoint of a million floats round-trips bit for bit',
    async check(s, dir) {
      const data = new Float32Array(1_000_000).map((_, i) => Math.sin(i) * 1e3);
      data[7] = -0;
      data[8] = NaN;
      const path = join(dir, 'big.wpt');
      await writeWpt(path, [{ key: 'w', kind: 'tensor', value: new Tensor(data, [1000, 1000]) }], {
        kind: 'checkpoint',
        storage: s,
      });
      const back = (await readWpt(path, s)).values.get('w') as Tensor;
      expectThat(
        back.data.every((v, i) => Object.is(v, data[i])),
        'the values read back differ',
      );
    },
  },
];

/**
 * The rules a read-only Storage (HttpStorage: files published by other means) keeps: `publish`
 * puts a file where the storage reads `path`.
 */
export interface ReadOnlyRule {
  name: string;
  check(storage: Storage, publish: (path: string, bytes: Uint8Array) => Promise<void>): Promise<void>;
}

export const READ_ONLY_RULES: ReadOnlyRule[] = [
  {
    name: 'ranged reads return exactly the bytes asked for, into a given array too, and fewer only at the end',
    async check(s, publish) {
      const data = bytes(200_000, 9);
      await publish('ro/r.bin', data);
      const h = await s.openRead('ro/r.bin');
      try {
        expectThat(h.size === data.length, `size is ${h.size}, not ${data.length}`);
        expectThat(same(await h.read(10, 5), data.subarray(10, 15)), 'read(10, 5) gave other bytes');
        const into = new Uint8Array(8);
        const tail = await h.read(data.length - 4, 8, into);
        expectThat(tail.length === 4 && same(tail, data.subarray(-4)), `a read past the end gave ${tail.length} bytes`);
        expectThat(same(await h.read(0, data.length), data), 'a whole read differs');
      } finally {
        await h.close();
      }
    },
  },
  {
    name: 'a missing file is refused as missing (ENOENT, or NOT_FOUND naming it), and writes are refused',
    async check(s) {
      const read = await outcome(s.openRead('ro/none.bin'));
      expectThat(read === 'ENOENT' || read === 'NOT_FOUND', `openRead of a missing file gave ${read}`);
      const create = await outcome(s.createExclusive('ro/new.bin'));
      expectThat(create !== 'ok', 'a read-only storage created a file');
    },
  },
  {
    name: 'a file replaced between reads of one open handle fails instead of mixing versions',
    async check(s, publish) {
      await publish('ro/v.bin', bytes(300_000, 1));
      const h = await s.openRead('ro/v.bin');
      try {
        await publish('ro/v.bin', bytes(300_000, 2));
        const mixed = await outcome(h.read(0, 1000));
        expectThat(mixed !== 'ok', 'a read after the file was replaced returned bytes');
      } finally {
        await h.close();
      }
    },
  },
  {
    name: 'a checkpoint of a million floats reads back bit for bit',
    async check(s, publish) {
      const data = new Float32Array(1_000_000).map((_, i) => Math.cos(i) * 1e3);
      const memory = new MemoryStorage();
      await writeWpt('/big.wpt', [{ key: 'w', kind: 'tensor', value: new Tensor(data, [1000, 1000]) }], {
        kind: 'checkpoint',
        storage: memory,
      });
      await publish('ro/big.wpt', memory.files.get('/big.wpt')!);
      const back = (await readWpt('ro/big.wpt', s)).values.get('w') as Tensor;
      expectThat(
        back.data.every((v, i) => Object.is(v, data[i])),
        'the values read back differ',
      );
    },
  },
];

/** Runs every rule, each in a fresh directory from `make`; returns the violations, by rule. */
export async function checkStorage(
  make: () => Promise<{ storage: Storage; dir: string }>,
): Promise<Array<{ rule: string; problem: string }>> {
  const problems: Array<{ rule: string; problem: string }> = [];
  for (const rule of STORAGE_RULES) {
    const { storage, dir } = await make();
    await storage
      .mkdirp(dir)
      .then(() => rule.check(storage, dir))
      .catch((e: Error) => problems.push({ rule: rule.name, problem: e.message }));
  }
  return problems;
}
