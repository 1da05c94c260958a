import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Checkpoint,
  CheckpointError,
  Variable,
  Random,
  Tensor,
  randn,
  tensor,
  WptReader,
  readWpt,
  writeWpt,
  type EntryHeader,
  type StateDict,
  type Trackable,
} from '../../src/node/index.js';
import { flattenState } from '../../src/state/tree.js';
import { replacedFilesReleased } from '../../src/checkpoint/format/writer.js';
import { STAGE_BYTES } from '../../src/checkpoint/format/reader.js';
import { TEMP_SUFFIX } from '../../src/storage/temp-names.js';
import type { Storage } from '../../src/node/index.js';
import { MemoryStorage } from '../../src/node/index.js';
import { FaultyStorage } from '../helpers/faulty-storage.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wpt-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The entries a file's header lists. */
async function entriesOf(path: string): Promise<EntryHeader[]> {
  const reader = await WptReader.open(path);
  await reader.close();
  return reader.entries;
}

/** A property over one byte of any entry of `file` flipped and written to `path`; `check` reads it (the bytes in hand stay whole). */
function anyDamagedByte(path: string, file: Buffer, entries: EntryHeader[], check: (e: EntryHeader) => Promise<void>) {
  return fc.asyncProperty(
    fc.nat({ max: entries.length - 1 }),
    fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    async (which, where) => {
      const e = entries[which];
      const at = e.offset + Math.floor(where * e.length);
      file[at] ^= 0x5a;
      writeFileSync(path, file);
      file[at] ^= 0x5a;
      await check(e);
    },
  );
}

/** A minimal trackable: named tensors plus a JSON config. */
class Params implements Trackable {
  constructor(
    public tensors: Record<string, Tensor>,
    public config: Record<string, number> = {},
  ) {}
  stateDict(): StateDict {
    return { ...this.tensors, config: this.config };
  }
  loadStateDict(state: StateDict): void {
    for (const [k, t] of Object.entries(this.tensors)) if (state[k]) t.data.set((state[k] as Tensor).data);
    this.config = (state.config as Record<string, number>) ?? this.config;
  }
}

const params = (seed: number, shape = [3, 4]) =>
  new Params(
    { kernel: randn(shape, new Random(seed)), bias: randn([shape[1]], new Random(seed + 1)) },
    { units: shape[1] },
  );

describe('Checkpoint', () => {
  it('restores a group of trackables and values into fresh objects', async () => {
    const gen = params(1),
      disc = params(2, [4, 2]);
    const step = new Variable<number>(41);
    const path = join(dir, 'ckpt.wpt');
    await new Checkpoint({ generator: gen, discriminator: disc, step, note: 'hello' }).write(path);

    const gen2 = params(10),
      disc2 = params(20, [4, 2]),
      step2 = new Variable<number>(0);
    const again = new Checkpoint({ generator: gen2, discriminator: disc2, step: step2, note: null });
    const report = await again.read(path);
    expect(report).toEqual({ missing: [], unexpected: [], mismatched: [], saveCounter: null });
    expect(gen2.tensors.kernel.data).toEqual(gen.tensors.kernel.data);
    expect(disc2.tensors.bias.data).toEqual(disc.tensors.bias.data);
    expect(step2.value).toBe(41);
    expect(again.get('note')).toBe('hello');
  });

  it('strict read lists every missing and unexpected key and restores nothing', async () => {
    const path = join(dir, 'c.wpt');
    await new Checkpoint({ a: params(1), b: params(2) }).write(path);
    const target = params(5);
    const before = target.tensors.kernel.data.slice();
    const err = await new Checkpoint({ a: target, c: params(3) }).read(path).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.code).toBe('MISSING_KEYS');
    expect(err.message).toContain('missing from the file: c/kernel, c/bias, c/config');
    expect(err.message).toContain('not expected: b/kernel, b/bias, b/config');
    expect(target.tensors.kernel.data).toEqual(before);
  });

  it('a shape mismatch names the key and both shapes; non-strict restores the rest and reports it', async () => {
    const path = join(dir, 'c.wpt');
    await new Checkpoint({ a: params(1, [3, 4]), extra: params(9) }).write(path);
    const wrong = params(2, [5, 4]);
    const err = await new Checkpoint({ a: wrong }).read(path).catch((e) => e);
    expect(err.message).toContain('a/kernel: expected [5,4], file has [3,4]');
    const report = await new Checkpoint({ a: wrong }).read(path, { strict: false });
    expect(report.mismatched).toEqual(['a/kernel']);
    expect(report.unexpected).toEqual(['extra/kernel', 'extra/bias', 'extra/config']);
  });

  it('restores plain tensors in place', async () => {
    const path = join(dir, 't.wpt');
    await new Checkpoint({ w: tensor([1, 2, 3]) }).write(path);
    const w = tensor([0, 0, 0]);
    await new Checkpoint({ w }).read(path);
    expect(Array.from(w.data)).toEqual([1, 2, 3]);
  });

  it('restores into the arrays stateDict() exposes; a trackable that hands out copies gets the values through loadStateDict', async () => {
    const path = join(dir, 'live.wpt');
    const saved = params(1, [8, 8]);
    await new Checkpoint({ a: saved, b: params(2, [8, 8]) }).write(path, { codec: 'shuffle-deflate' });
    const live = params(3, [8, 8]);
    const kernel = live.tensors.kernel.data;
    class Copies extends Params {
      override stateDict(): StateDict {
        return { kernel: this.tensors.kernel.clone(), bias: this.tensors.bias.clone(), config: this.config };
      }
    }
    const copies = new Copies(params(4, [8, 8]).tensors);
    await new Checkpoint({ a: live, b: copies }).read(path);
    expect(live.tensors.kernel.data).toBe(kernel);
    expect(kernel).toEqual(saved.tensors.kernel.data);
    expect(copies.tensors.kernel.data).toEqual(params(2, [8, 8]).tensors.kernel.data);
  });

  it('a damaged entry anywhere in the file leaves every tracked array as it was', async () => {
    const path = join(dir, 'damaged.wpt');
    const shapes = [[64, 32], [32], [32, 16], [16]];
    const source = Object.fromEntries(shapes.map((s, i) => [`t${i}`, randn(s, new Random(i + 1))]));
    await new Checkpoint(source).write(path);
    const file = readFileSync(path);
    await fc.assert(
      anyDamagedByte(path, file, await entriesOf(path), async () => {
        const targets = Object.fromEntries(shapes.map((s, i) => [`t${i}`, randn(s, new Random(100 + i))]));
        const before = Object.values(targets).map((t) => t.data.slice());
        const err = await new Checkpoint(targets).read(path).catch((x: unknown) => x);
        expect(err).toBeInstanceOf(CheckpointError);
        expect(['CHECKSUM_MISMATCH', 'DECOMPRESSED_SIZE_MISMATCH']).toContain((err as CheckpointError).code);
        Object.values(targets).forEach((t, i) => expect(t.data).toEqual(before[i]));
      }),
      { numRuns: 40 },
    );
  });

  it('a restore too large to stage (two passes over the file) restores every codec exactly, and a damaged entry anywhere leaves every array as it was', async () => {
    // Nine entries of 8 MiB: past STAGE_BYTES, so the reader verifies the whole file, then reads it again into the arrays.
    const floats = 2 << 20;
    const sources = Array.from({ length: 9 }, (_, i) => {
      const data = new Float32Array(floats);
      new Random(i + 1).fillNormal(data, 0, 0.05);
      return new Tensor(data, [floats]);
    });
    expect(sources.length * floats * 4).toBeGreaterThan(STAGE_BYTES);
    const fresh = () =>
      Object.fromEntries(sources.map((_, i) => [`t${i}`, new Tensor(new Float32Array(floats).fill(i), [floats])]));
    for (const codec of ['raw', 'shuffle-deflate', 'deflate'] as const) {
      const path = join(dir, `large-${codec}.wpt`);
      await new Checkpoint(Object.fromEntries(sources.map((t, i) => [`t${i}`, t]))).write(path, { codec });
      const sound = fresh();
      await new Checkpoint(sound).read(path);
      // Compared as bytes: toEqual walks 2M values one by one.
      Object.values(sound).forEach((t, i) => expect(Buffer.compare(bytesOf(t.data), bytesOf(sources[i].data))).toBe(0));
      const file = readFileSync(path);
      const entries = await entriesOf(path);
      await fc.assert(
        anyDamagedByte(path, file, entries, async (e) => {
          const targets = fresh();
          const err = await new Checkpoint(targets).read(path).catch((x: unknown) => x);
          expect(err).toBeInstanceOf(CheckpointError);
          expect((err as CheckpointError).entry).toBe(e.key);
          expect(['CHECKSUM_MISMATCH', 'DECOMPRESSED_SIZE_MISMATCH']).toContain((err as CheckpointError).code);
          Object.values(targets).forEach((t, i) => expect(t.data.every((v) => v === i)).toBe(true));
        }),
        {
          numRuns: 6,
          examples: [
            [0, 0],
            [entries.length - 1, 0.999],
          ],
        },
      );
    }
  });

  it('restores float16 exports into float32 arrays, and refuses an array of the wrong size by name', async () => {
    const path = join(dir, 'half.wpt');
    const w = randn([5, 7], new Random(3));
    await new Checkpoint({ w }).write(path, { float16: true });
    const into = tensor(new Array(35).fill(0), [5, 7]);
    await new Checkpoint({ w: into }).read(path);
    const { values } = await readWpt(path);
    expect(into.data).toEqual((values.get('w') as Tensor).data);
    expect(Math.max(...into.data.map((v, i) => Math.abs(v - w.data[i])))).toBeLessThan(
      2e-3 * Math.max(...w.data.map(Math.abs)),
    );
    const reader = await WptReader.open(path);
    const err = await reader.stage([{ key: 'w', into: new Float32Array(34) }]).catch((x: unknown) => x);
    await reader.close();
    expect(err).toMatchObject({ code: 'SHAPE_MISMATCH', entry: 'w' });
    expect((err as Error).message).toContain('holds 34 values, the file has 35');
  });

  it('a background write snapshots the state when called, not when it lands', async () => {
    const p = params(1, [64, 64]);
    const original = p.tensors.kernel.data.slice();
    const ckpt = new Checkpoint({ p });
    const pending = await ckpt.write(join(dir, 'bg.wpt'), { async: true });
    p.tensors.kernel.data.fill(7); // training goes on and mutates the weights
    await pending.durable;
    const { values } = await readWpt(join(dir, 'bg.wpt'));
    expect((values.get('p/kernel') as Tensor).data).toEqual(original);
  });

  it('a file that changes between the two passes of a large restore fails the second: by its checksums, or by its version stamp where the storage has one', async () => {
    const floats = 2 << 20;
    const state = () =>
      Object.fromEntries(
        Array.from({ length: 9 }, (_, i) => [`t${i}`, new Tensor(new Float32Array(floats).fill(i + 1), [floats])]),
      );
    const targets = () => Object.entries(state()).map(([key, t]) => ({ key, into: t.data }));
    const storage = new MemoryStorage();
    await writeWpt('/big.wpt', flattenState(state()), { kind: 'weights', codec: 'raw', storage });
    // No version stamps in memory: the second pass checksums every entry again.
    let reader = await WptReader.open('/big.wpt', storage);
    let staged = await reader.stage(targets());
    const stored = storage.files.get('/big.wpt')!;
    const last = reader.entry('t8');
    stored[last.offset + 5] ^= 0xff; // changed in place after the first pass verified it
    let err = await staged.commit().catch((e: unknown) => e);
    await reader.close();
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).code).toBe('CHECKSUM_MISMATCH');
    expect((err as CheckpointError).entry).toBe('t8');
    expect((err as Error).message).toMatch(/the file changed while it was restored/);
    stored[last.offset + 5] ^= 0xff;
    // A storage with version stamps compares them instead: a stamp that moved is refused.
    let version = 0;
    const stamped: Storage = Object.assign(Object.create(storage) as Storage, {
      openRead: async (path: string) => ({ ...(await storage.openRead(path)), version: async () => `v${version++}` }),
    });
    reader = await WptReader.open('/big.wpt', stamped);
    staged = await reader.stage(targets());
    err = await staged.commit().catch((e: unknown) => e);
    await reader.close();
    expect((err as CheckpointError).code).toBe('CHECKSUM_MISMATCH');
    expect((err as Error).message).toMatch(/its version was v0 when verified and is v1 now/);
    // And an unchanged stamp restores, the raw entries read straight into their arrays.
    const steady: Storage = Object.assign(Object.create(storage) as Storage, {
      openRead: async (path: string) => ({ ...(await storage.openRead(path)), version: async () => 'same' }),
    });
    const into = targets();
    reader = await WptReader.open('/big.wpt', steady);
    await (await reader.stage(into)).commit();
    await reader.close();
    into.forEach(({ into: a }, i) => expect(a[0] === i + 1 && a[floats - 1] === i + 1).toBe(true));
  });

  it('a background write of a state over maxSnapshotBytes copies nothing: it writes from the live arrays and returns once the file is durable', async () => {
    const p = params(1, [64, 64]); // 16 KiB of tensors
    const original = p.tensors.kernel.data.slice();
    const ckpt = new Checkpoint({ p });
    const path = join(dir, 'capped.wpt');
    const pending = await ckpt.write(path, { async: true, maxSnapshotBytes: 4096 });
    // Already on disk when the call returns: the caller waited instead of a copy being taken.
    const { values } = await readWpt(path);
    expect((values.get('p/kernel') as Tensor).data).toEqual(original);
    expect((await pending.durable).path).toBe(path);
    // Under the cap it snapshots as before: weights changed right after the call are not in the file.
    const under = await ckpt.write(path, { async: true, maxSnapshotBytes: 1 << 20 });
    p.tensors.kernel.data.fill(7);
    await under.durable;
    expect(((await readWpt(path)).values.get('p/kernel') as Tensor).data).toEqual(original);
    await expect(ckpt.writeInBackground(path, { maxSnapshotBytes: -1 })).rejects.toThrow(/maxSnapshotBytes must be/);
  });

  it('background writes to one target land in order, one at a time', async () => {
    const v = new Variable<number>(0);
    const ckpt = new Checkpoint({ v });
    const path = join(dir, 'seq.wpt');
    const handles = [];
    for (let i = 1; i <= 5; i++) {
      v.assign(i);
      handles.push(await ckpt.writeInBackground(path));
    }
    await ckpt.flush();
    await Promise.all(handles.map((h) => h.durable));
    const again = new Variable<number>(0);
    await new Checkpoint({ v: again }).read(path);
    expect(again.value).toBe(5);
  });

  it('lists entries from the header alone and reads one entry by its bytes alone', async () => {
    const storage = new MemoryStorage();
    const big = randn([100, 100], new Random(1));
    await writeWpt(
      '/m/x.wpt',
      [
        { key: 'big', kind: 'tensor', value: big },
        { key: 'small', kind: 'tensor', value: tensor([1, 2]) },
      ],
      { kind: 'weights', storage },
    );
    const reader = await WptReader.open('/m/x.wpt', storage);
    const headerReads = storage.reads.reduce((n, r) => n + r.length, 0);
    expect(headerReads).toBeLessThan(1000);
    expect(reader.entries.map((e) => e.key)).toEqual(['big', 'small']);
    storage.reads = [];
    const small = await reader.read('small');
    expect(Array.from((small as Tensor).data)).toEqual([1, 2]);
    expect(storage.reads).toEqual([
      { path: '/m/x.wpt', offset: reader.entry('small').offset, length: reader.entry('small').length },
    ]);
    await reader.close();
  });

  it('reads prologue and trailer together, and closes the file only after both reads settle when one fails', async () => {
    const storage = new MemoryStorage();
    await writeWpt('/m/x.wpt', [{ key: 'a', kind: 'tensor', value: tensor([1, 2]) }], { kind: 'weights', storage });
    const size = (storage.files.get('/m/x.wpt') as Uint8Array).length;
    const events: string[] = [];
    const slowPrologue: Storage = Object.assign(Object.create(storage) as Storage, {
      async openRead(path: string) {
        const h = await storage.openRead(path);
        return {
          ...h,
          read: async (offset: number, length: number) => {
            events.push(`start ${offset}`);
            if (offset !== 0) throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
            await new Promise((resolve) => setTimeout(resolve, 20));
            events.push('prologue landed');
            return h.read(offset, length);
          },
          close: async () => {
            events.push('close');
          },
        };
      },
    });
    await expect(WptReader.open('/m/x.wpt', slowPrologue)).rejects.toThrow('EIO: injected');
    expect(events).toEqual(['start 0', `start ${size - 24}`, 'prologue landed', 'close']);
  });
});

describe('crash-safe writes', () => {
  /** Storage that fails the n-th call of one operation. */
  function failing(base: Storage, op: keyof Storage, code = 'EIO'): Storage {
    return new Proxy(base, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop === op)
          return async () => {
            throw Object.assign(new Error(`${code}: injected`), { code });
          };
        if (prop === 'createExclusive') {
          return async (path: string) => {
            const h = await target.createExclusive(path);
            if (op === ('write' as keyof Storage))
              return {
                ...h,
                write: async () => {
                  throw Object.assign(new Error(`${code}: injected`), { code });
                },
              };
            if (op === ('sync' as keyof Storage))
              return {
                ...h,
                sync: async () => {
                  throw Object.assign(new Error(`${code}: injected`), { code });
                },
              };
            return h;
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  for (const op of ['write', 'sync', 'rename'] as const) {
    it(`a failed ${op} leaves the previous file intact and no temporary file behind`, async () => {
      const storage = new MemoryStorage();
      const leaf = (v: number) => [{ key: 'v', kind: 'json' as const, value: v }];
      await writeWpt('/m/c.wpt', leaf(1), { kind: 'checkpoint', storage });
      const err = await writeWpt('/m/c.wpt', leaf(2), {
        kind: 'checkpoint',
        storage: failing(storage, op as keyof Storage, 'ENOSPC'),
      }).catch((e) => e);
      expect(err).toBeInstanceOf(CheckpointError);
      expect(err.code).toBe('NO_SPACE');
      expect(err.message).toContain('ENOSPC');
      expect([...storage.files.keys()]).toEqual(['/m/c.wpt']);
      expect((await readWpt('/m/c.wpt', storage)).values.get('v')).toBe(1);
    });
  }

  it('writes through a temporary file in the same directory, renamed over the target', async () => {
    const path = join(dir, 'x.wpt');
    writeFileSync(path, 'old');
    await writeWpt(path, [{ key: 'k', kind: 'json', value: 1 }], { kind: 'weights' });
    expect(readFileSync(path).subarray(1, 4).toString()).toBe('WPT');
    await replacedFilesReleased();
    expect(readdirSync(dir)).toEqual(['x.wpt']);
  });

  it('deletes the replaced file only once the new one is durable, and without hard links still replaces it', async () => {
    const memory = new MemoryStorage();
    const leaf = (v: number) => [{ key: 'v', kind: 'json' as const, value: v }];
    await writeWpt('/m/c.wpt', leaf(1), { kind: 'checkpoint', storage: memory });
    const log: string[] = [];
    const logged: Storage = {
      ...(Object.fromEntries(
        ['createExclusive', 'openRead', 'list', 'mkdirp', 'freeBytes'].map((k) => [k, (memory as any)[k].bind(memory)]),
      ) as unknown as Storage),
      link: async (a, b) => {
        log.push(`link ${a} ${b.endsWith(TEMP_SUFFIX) ? 'temp' : b}`);
        await memory.link(a, b);
      },
      rename: async (a, b) => {
        log.push(`rename to ${b}`);
        await memory.rename(a, b);
      },
      syncDir: async (d) => {
        log.push(`syncDir ${d}`);
      },
      remove: async (p) => {
        log.push(`remove ${p.endsWith(TEMP_SUFFIX) ? 'temp' : p}`);
        await memory.remove(p);
      },
    };
    await writeWpt('/m/c.wpt', leaf(2), { kind: 'checkpoint', storage: logged });
    await replacedFilesReleased();
    expect(log).toEqual(['link /m/c.wpt temp', 'rename to /m/c.wpt', 'syncDir /m', 'remove temp']);
    expect([...memory.files.keys()]).toEqual(['/m/c.wpt']);
    expect((await readWpt('/m/c.wpt', memory)).values.get('v')).toBe(2);

    const noLinks = new FaultyStorage(memory, { failAt: 0, code: 'EACCES', ops: ['link'] });
    await writeWpt('/m/c.wpt', leaf(3), { kind: 'checkpoint', storage: noLinks });
    await replacedFilesReleased();
    expect(noLinks.injected).toHaveLength(1);
    expect([...memory.files.keys()]).toEqual(['/m/c.wpt']);
    expect((await readWpt('/m/c.wpt', memory)).values.get('v')).toBe(3);
  });

  it('round-trips through the real filesystem for random states', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 50 }),
        fc.nat(),
        async (r, c, seed) => {
          const p = params(seed, [r, c]);
          const path = join(dir, 'fs.wpt');
          await new Checkpoint({ p }).write(path);
          const q = params(seed + 100, [r, c]);
          await new Checkpoint({ p: q }).read(path);
          expect(q.tensors.kernel.data).toEqual(p.tensors.kernel.data);
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe('saving into a folder that does not exist yet', () => {
  it('model.save, Checkpoint.write and Checkpoint.save create it, as TensorFlow does', async () => {
    const { mkdtempSync, rmSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { Sequential, Dense, Checkpoint, Variable, latestCheckpoint } = await import('../../src/node/index.js');
    const root = mkdtempSync(join(tmpdir(), 'wpt-newdir-'));
    try {
      await new Sequential([new Dense({ units: 2, inputShape: [3] })]).save(join(root, 'a', 'b', 'm.wpt'));
      expect(existsSync(join(root, 'a', 'b', 'm.wpt'))).toBe(true);
      const ckpt = new Checkpoint({ step: new Variable(3) });
      await ckpt.write(join(root, 'c', 'x.wpt'));
      const saved = await ckpt.save(join(root, 'new-dir', 'ckpt'));
      expect(saved).toBe(join(root, 'new-dir', 'ckpt-1.wpt'));
      expect(await latestCheckpoint(join(root, 'new-dir'))).toBe(saved);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
