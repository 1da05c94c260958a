/**
 * Checkpoint averaging: the mean against a float64 reference computed here from the files'
 * own values, the same bits in any order of the inputs, BatchNormalization's statistics
 * averaged, a manager's last and best, and refusals naming the file and the first difference.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchNormalization,
  CheckpointManager,
  Dense,
  MemoryStorage,
  ModelCheckpoint,
  Sequential,
  averageCheckpoints,
  loadModel,
  readWpt,
  trainingCheckpoint,
  type Tensor,
} from '../../src/node/index.js';
import { dataFor } from '../../harness/training.js';
import { flattenState } from '../../src/state/tree.js';

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function model(units = 8) {
  const m = new Sequential(
    [
      new Dense({ units, activation: 'relu', inputShape: [6] }),
      new BatchNormalization(),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
    { seed: 4 },
  );
  m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

/** Four checkpoints of one run (one per epoch), in memory. */
async function run(storage: MemoryStorage) {
  const [x, y] = dataFor('mlp');
  const checkpoint = new ModelCheckpoint({ filepath: '/run/{epoch}.wpt', storage });
  await model().fit(x, y, { epochs: 4, batchSize: 8, verbose: 0, validationSplit: 0.25, callbacks: [checkpoint] });
  return ['/run/1.wpt', '/run/2.wpt', '/run/3.wpt', '/run/4.wpt'];
}

describe('averageCheckpoints', () => {
  it('is the float64 mean of every weight and moving statistic, rounded once, the same bits in any order', async () => {
    const storage = new MemoryStorage();
    const files = await run(storage);
    const values = await Promise.all(files.map(async (f) => (await readWpt(f, storage)).values));
    const averaged = await averageCheckpoints(files, { storage });
    const state = averaged.getWeights();
    const keys = [
      'layers/0/kernel',
      'layers/0/bias',
      'layers/1/gamma',
      'layers/1/beta',
      'layers/1/moving_mean',
      'layers/1/moving_variance',
      'layers/2/kernel',
      'layers/2/bias',
    ];
    keys.forEach((key, k) => {
      const all = values.map((v) => (v.get(`model/${key}`) as Tensor).data);
      const expected = Float32Array.from(all[0], (_, i) => all.reduce((s, a) => s + a[i], 0) / all.length);
      expect(bits(state[k].data), key).toEqual(bits(expected));
    });
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(files, { minLength: 4, maxLength: 4 }), async (order) => {
        const again = await averageCheckpoints(order, { storage });
        expect(again.getWeights().map((w) => bits(w.data))).toEqual(state.map((w) => bits(w.data)));
      }),
      { numRuns: 6 },
    );
  });

  it('writes a model file with a fresh optimizer of the saved config that loadModel reads', async () => {
    const storage = new MemoryStorage();
    const files = await run(storage);
    const averaged = await averageCheckpoints(files.slice(1), { storage, out: '/avg.wpt' });
    const back = await loadModel('/avg.wpt', { storage });
    expect(back.getWeights().map((w) => bits(w.data))).toEqual(averaged.getWeights().map((w) => bits(w.data)));
    expect(back.optimizer!.className).toBe('Adam');
    expect(back.optimizer!.iterations).toBe(0);
    const { values } = await readWpt('/avg.wpt', storage);
    const slots = [...values].filter(([k]) => k.startsWith('optimizer/m/') || k.startsWith('optimizer/v/'));
    for (const [k, v] of slots)
      expect(
        (v as Tensor).data.every((x) => x === 0),
        k,
      ).toBe(true); // a fresh optimizer's
  });

  it("optimizerFrom carries one file's optimizer state (its step count and slots) to train on from the average", async () => {
    const storage = new MemoryStorage();
    const files = await run(storage);
    const averaged = await averageCheckpoints(files, { storage, optimizerFrom: files[3] });
    const last = await loadModel(files[3], { storage });
    expect(averaged.optimizer!.iterations).toBe(last.optimizer!.iterations);
    expect(averaged.optimizer!.iterations).toBeGreaterThan(0);
    const slots = (m: typeof last) =>
      flattenState(m.optimizer!.stateDict())
        .filter((leaf) => leaf.kind === 'tensor')
        .map((leaf) => [leaf.key, bits((leaf.value as Tensor).data)]);
    expect(slots(averaged).length).toBeGreaterThan(0);
    expect(slots(averaged)).toEqual(slots(last));
  });

  it("takes a manager's last n, or its best k by a metric", async () => {
    const storage = new MemoryStorage();
    const m = model();
    const manager = new CheckpointManager(trainingCheckpoint(m), '/managed', { storage, maxToKeep: 10 });
    const losses = [0.9, 0.3, 0.5, 0.2];
    const saved: string[] = [];
    for (const loss of losses) {
      for (const [, p] of m.namedParams()) p.data[0] += 1; // each save differs
      saved.push((await manager.save({ metrics: { loss } }))!);
    }
    const last = await averageCheckpoints({ manager, last: 2 }, { storage });
    const byPaths = await averageCheckpoints(saved.slice(2), { storage });
    expect(last.getWeights().map((w) => bits(w.data))).toEqual(byPaths.getWeights().map((w) => bits(w.data)));
    const best = await averageCheckpoints({ manager, best: 2, monitor: 'loss' }, { storage });
    await expect(averageCheckpoints({ manager, best: 2 }, { storage })).rejects.toThrow(
      /\{ best \} needs a monitor: give one, or a manager with bestOf/,
    );
    const expected = await averageCheckpoints([saved[1], saved[3]], { storage });
    expect(best.getWeights().map((w) => bits(w.data))).toEqual(expected.getWeights().map((w) => bits(w.data)));
    await manager.close();
  });

  it('refuses another architecture naming the first difference, and a damaged file naming it, before writing', async () => {
    const storage = new MemoryStorage();
    const files = await run(storage);
    await model(16).save('/wide.wpt', { storage });
    await expect(averageCheckpoints([files[0], '/wide.wpt'], { storage, out: '/x.wpt' })).rejects.toThrow(
      /is not the architecture of .*: layers\[0\]\.config\.units: saved 8, this is 16|is not the architecture of .*units/,
    );
    const bytes = storage.files.get(files[1])!;
    bytes[bytes.length >> 1] ^= 0xff;
    await expect(averageCheckpoints(files, { storage, out: '/x.wpt' })).rejects.toThrow(/CHECKSUM_MISMATCH|MALFORMED/);
    expect(storage.files.has('/x.wpt')).toBe(false);
  });

  it('waypoint average A B … --out writes the mean; it never writes over an input', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpt-average-'));
    try {
      const [x, y] = dataFor('mlp');
      const checkpoint = new ModelCheckpoint({ filepath: join(dir, '{epoch}.wpt') });
      await model().fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, callbacks: [checkpoint] });
      const bin = join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js');
      const inputs = [1, 2, 3].map((e) => join(dir, `${e}.wpt`));
      const r = spawnSync('node', [bin, 'average', ...inputs, '--out', join(dir, 'avg.wpt')], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/wrote .*avg\.wpt \(the mean of 3 files/);
      const expected = await averageCheckpoints(inputs);
      const back = await loadModel(join(dir, 'avg.wpt'));
      expect(back.getWeights().map((w) => bits(w.data))).toEqual(expected.getWeights().map((w) => bits(w.data)));
      const over = spawnSync('node', [bin, 'average', ...inputs, '--out', inputs[0], '--overwrite'], {
        encoding: 'utf8',
      });
      expect(over.status).not.toBe(0);
      expect(over.stderr).toMatch(/is the input file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
