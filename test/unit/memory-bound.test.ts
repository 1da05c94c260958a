/**
 * What a reader asks memory for, counted at every request (new memory and scratch alike,
 * as if nothing were ever recycled): never more than the file's size plus twice the
 * decoded size its header declares, tensors at the float32 width they are returned in.
 * The file's size pays for the header and the payloads as stored; the decoded sizes for
 * inflated planes and the arrays returned. Whatever numbers a file holds, a read cannot be
 * made to ask for more: lengths and offsets are checked against the file's size, and
 * decoded sizes are capped before anything is inflated (docs/FORMAT.md §5).
 */
import { describe, it, expect, vi } from 'vitest';
import fc from 'fast-check';

const requested = vi.hoisted(() => ({ bytes: 0 }));
const { installPlatform, platform } = await import('../../src/platform.js');
const real = platform();
installPlatform({
  ...real,
  allocUninitialized: (n: number) => {
    requested.bytes += n;
    return real.allocUninitialized(n);
  },
});
vi.mock('../../src/checkpoint/layout/recycler.js', () => ({
  takeScratch: (n: number) => {
    requested.bytes += n;
    return new Uint8Array(n);
  },
  recycle: () => undefined,
  keepMoreWhile: () => () => undefined,
}));

const { Checkpoint, MemoryStorage, Random, Tensor, WptReader, readWpt, writeWpt } =
  await import('../../src/node/index.js');
const { mutate } = await import('../../harness/fuzz.js');
type StateDict = import('../../src/node/index.js').StateDict;

/** MemoryStorage whose reads into new memory (header, prologue, trailer) are counted too. */
class CountingStorage extends MemoryStorage {
  override async openRead(path: string) {
    const handle = await super.openRead(path);
    return {
      ...handle,
      read: (offset: number, length: number, into?: Uint8Array) => {
        if (!into) requested.bytes += length;
        return handle.read(offset, length, into);
      },
    };
  }
}

/** The bound for a file: its size plus twice what its header declares (0 where it does not open). */
async function boundOf(storage: CountingStorage, path: string): Promise<number> {
  const size = storage.files.get(path)!.length;
  const reader = await WptReader.open(path, storage).catch(() => null);
  if (reader === null) return size;
  await reader.close();
  const declared = reader.entries.reduce(
    (n, e) => n + (e.dtype === 'json' ? e.shape[0] : 4 * e.shape.reduce((a, b) => a * b, 1)),
    0,
  );
  return size + 2 * declared;
}

/** Bytes requested while `read` runs. */
async function requestedBy(read: () => Promise<unknown>): Promise<number> {
  requested.bytes = 0;
  await read().catch(() => undefined);
  return requested.bytes;
}

const tensorArb = fc
  .tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 3 }), fc.integer())
  .map(([n, rows, seed]) => new Tensor(new Random(seed).fillNormal(new Float32Array(n * rows), 0, 0.1), [rows, n]));
const stateArb = fc.record({
  w: tensorArb,
  b: tensorArb,
  zeros: fc.integer({ min: 0, max: 5000 }).map((n) => new Tensor(new Float32Array(n), [n])),
  history: fc.jsonValue({ maxDepth: 2 }),
});

describe('memory a reader asks for', () => {
  it('loads and restores of arbitrary files, every codec, float16 too: within the file size plus twice the declared sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        stateArb,
        fc.constantFrom('raw', 'deflate', 'shuffle-deflate'),
        fc.boolean(),
        async (state, codec, float16) => {
          const storage = new CountingStorage();
          const tree = { ...state } as StateDict; // fast-check builds records without a prototype
          const model = { stateDict: () => tree, loadStateDict: () => undefined };
          await new Checkpoint({ model }).write('/m/x.wpt', { codec, float16, storage });
          const bound = await boundOf(storage, '/m/x.wpt');
          expect(await requestedBy(() => readWpt('/m/x.wpt', storage))).toBeLessThanOrEqual(bound);
          expect(await requestedBy(() => new Checkpoint({ model }).read('/m/x.wpt', { storage }))).toBeLessThanOrEqual(
            bound,
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a raw restore too large to stage asks for three 1 MiB pieces per entry, in all, where staging asked for the model again', async () => {
    const storage = new CountingStorage();
    const floats = 2 << 20; // nine entries of 8 MiB: 72 MiB, past STAGE_BYTES
    const tree: StateDict = Object.fromEntries(
      Array.from({ length: 9 }, (_, i) => [`t${i}`, new Tensor(new Float32Array(floats).fill(i), [floats])]),
    );
    const model = { stateDict: () => tree, loadStateDict: () => undefined };
    await new Checkpoint({ model }).write('/m/big.wpt', { codec: 'raw', storage });
    const into: StateDict = Object.fromEntries(
      Array.from({ length: 9 }, (_, i) => [`t${i}`, new Tensor(new Float32Array(floats), [floats])]),
    );
    const target = { stateDict: () => into, loadStateDict: () => undefined };
    const asked = await requestedBy(() => new Checkpoint({ model: target }).read('/m/big.wpt', { storage }));
    Object.values(into).forEach((t, i) =>
      expect((t as InstanceType<typeof Tensor>).data.every((v) => v === i)).toBe(true),
    );
    expect(asked).toBeLessThanOrEqual(9 * 3 * (1 << 20) + (1 << 20)); // the pieces, and the header
  });

  it('damaged and hostile files (2,000 mutations, header fields included): within the same bound', async () => {
    const storage = new CountingStorage();
    const rng = new Random(11);
    await writeWpt(
      '/m/seed.wpt',
      [
        { key: 'w', kind: 'tensor', value: new Tensor(rng.fillNormal(new Float32Array(2048), 0, 0.1), [2, 1024]) },
        { key: 'raw', kind: 'tensor', value: new Tensor(rng.fillNormal(new Float32Array(6)), [2, 3]) },
        { key: 'h', kind: 'json', value: { loss: [1, 0.5], note: 'x'.repeat(300) } },
      ],
      { kind: 'checkpoint', storage },
    );
    const seed = storage.files.get('/m/seed.wpt')!;
    let rejected = 0;
    for (let i = 0; i < 2000; i++) {
      storage.files.set('/m/m.wpt', mutate(seed, rng).bytes);
      const bound = await boundOf(storage, '/m/m.wpt');
      let failed = false;
      const asked = await requestedBy(() =>
        readWpt('/m/m.wpt', storage).catch((e: unknown) => {
          failed = true;
          throw e;
        }),
      );
      if (failed) rejected++;
      expect(asked).toBeLessThanOrEqual(bound);
    }
    expect(rejected).toBeGreaterThan(1500); // the mutations did damage
  });
});
