import { describe, it, expect } from 'vitest';
import { Checkpoint, CheckpointError, MemoryStorage, Random, Tensor, readWpt, writeWpt } from '../../src/node/index.js';
import { mutate } from '../../harness/fuzz.js';

async function seedFile(): Promise<{ file: Uint8Array; values: Map<string, unknown> }> {
  const storage = new MemoryStorage();
  const rng = new Random(4);
  await writeWpt(
    '/f/seed.wpt',
    [
      { key: 'w', kind: 'tensor', value: new Tensor(rng.fillNormal(new Float32Array(96), 0, 0.1), [8, 12]) },
      { key: 'b', kind: 'tensor', value: new Tensor(new Float32Array(8), [8]) },
      { key: 'raw', kind: 'tensor', value: new Tensor(rng.fillNormal(new Float32Array(6)), [2, 3]) },
      { key: 'h', kind: 'json', value: { loss: [1, 0.5, NaN], note: 'x'.repeat(300) } },
    ],
    { kind: 'checkpoint', storage },
  );
  const file = storage.files.get('/f/seed.wpt')!;
  return { file, values: (await readWpt('/f/seed.wpt', storage)).values };
}

describe('decoder fuzzing', () => {
  it('10,000 mutations: only CheckpointErrors, never wrong data, reads within the file, no hang', async () => {
    const { file, values } = await seedFile();
    const rng = new Random(20261126);
    const counts = { rejected: 0, loaded: 0 };
    for (let i = 0; i < 10_000; i++) {
      const m = mutate(file, rng);
      const storage = new MemoryStorage();
      storage.files.set('/f/m.wpt', m.bytes);
      const t = performance.now();
      const result = await readWpt('/f/m.wpt', storage).then(
        (r) => r,
        (e: unknown) => e,
      );
      expect(performance.now() - t).toBeLessThan(2000);
      for (const r of storage.reads) expect(r.offset + r.length).toBeLessThanOrEqual(m.bytes.length);
      if (result instanceof CheckpointError) {
        counts.rejected++;
        continue;
      }
      if (result instanceof Error) expect.fail(`${m.what}: ${result.constructor.name} ${result.message}`);
      counts.loaded++;
      // Raw damage is always caught: every byte is covered by a check.
      if (!m.structural) expect.fail(`${m.what} loaded without error`);
      // A structural edit with valid checksums may describe a different but well-formed file;
      // whatever it loads must be exactly the bytes it declares, never garbage beyond them.
      for (const [key, v] of (result as { values: Map<string, unknown> }).values) {
        if (v instanceof Tensor && values.get(key) instanceof Tensor) {
          const original = values.get(key) as Tensor;
          if (v.size === original.size) expect(v.data).toEqual(original.data);
        }
      }
    }
    expect(counts.rejected).toBeGreaterThan(9000);
  }, 120_000);

  it('the same mutations restored into a model: the same verdict as a load, and a rejected file leaves every array as it was', async () => {
    const { file } = await seedFile();
    const rng = new Random(20261127);
    const sentinel = (n: number, shape: number[]) => new Tensor(new Float32Array(n).fill(-7), shape);
    let restored = 0;
    for (let i = 0; i < 5_000; i++) {
      const m = mutate(file, rng);
      const storage = new MemoryStorage();
      storage.files.set('/f/m.wpt', m.bytes);
      const loaded = await readWpt('/f/m.wpt', storage).then(
        (r) => r.values,
        (e: unknown) => e,
      );
      const model = { w: sentinel(96, [8, 12]), b: sentinel(8, [8]), raw: sentinel(6, [2, 3]) };
      const result = await new Checkpoint({ ...model, h: null }).read('/f/m.wpt', { storage }).then(
        (r) => r,
        (e: unknown) => e,
      );
      if (result instanceof Error) {
        if (!(result instanceof CheckpointError))
          expect.fail(`${m.what}: ${result.constructor.name} ${result.message}`);
        for (const t of Object.values(model)) expect(t.data.every((v) => v === -7)).toBe(true);
        continue;
      }
      // A restore succeeds only where a load does, and puts exactly the loaded values in place.
      if (!(loaded instanceof Map)) expect.fail(`${m.what}: restored, but a load rejects it`);
      for (const [key, t] of Object.entries(model)) expect(t.data).toEqual((loaded.get(key) as Tensor).data);
      restored++;
    }
    expect(restored).toBeGreaterThan(0); // structural edits with valid checksums that still describe a sound file
    expect(restored).toBeLessThan(500);
  }, 120_000);
});
