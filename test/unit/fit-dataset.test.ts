/**
 * model.fitDataset and evaluateDataset: the same loop as fit (bit-identical on the same
 * batches), the same callbacks and History, TensorFlow.js's element forms and run-out rule,
 * and resume: a fit interrupted at any batch and continued from its backup ends bit-identical
 * to one never interrupted, its CSV read from the saved byte offset on.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  BackupAndRestore,
  Callback,
  Dense,
  Dropout,
  MemoryStorage,
  Random,
  Sequential,
  Tensor,
  TrainingInterruptedError,
  DataError,
  data,
  type Storage,
} from '../../src/node/index.js';

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const weightsOf = (m: Sequential) => m.getWeights().map((w) => bits(w.data));

function makeModel(seed = 5) {
  const model = new Sequential(
    [
      new Dense({ units: 8, activation: 'relu', inputShape: [4] }),
      new Dropout({ rate: 0.25 }),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
    { seed },
  );
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

function rows(n: number, seed = 1) {
  const rng = new Random(seed);
  return Array.from({ length: n }, () => {
    const x = Array.from({ length: 4 }, () => Math.round(rng.normal() * 1000) / 1000);
    return { x, y: x[0] + x[1] > 0 ? (x[2] > 0 ? 2 : 1) : 0 };
  });
}

describe('fitDataset', () => {
  it('trains bit-identically to fit on the same batches (one loop), with the same History', async () => {
    const r = rows(100);
    const x = new Tensor(Float32Array.from(r.flatMap((e) => e.x)), [100, 4]);
    const y = new Tensor(Float32Array.from(r.map((e) => e.y)), [100]);
    const a = makeModel(),
      b = makeModel();
    const ha = await a.fit(x, y, { epochs: 3, batchSize: 16, shuffle: false, verbose: 0 });
    const ds = data
      .array(r)
      .map((e) => ({ xs: e.x, ys: e.y }))
      .batch(16);
    const hb = await b.fitDataset(ds, { epochs: 3, verbose: 0 });
    expect(weightsOf(b)).toEqual(weightsOf(a));
    expect(hb.history).toEqual(ha.history);
    expect(await b.evaluateDataset(ds)).toEqual(await a.evaluate(x, y, { batchSize: 16 }));
  });

  it('builds an unbuilt model from the first batch, validates on a dataset (validationBatches) or on tensors', async () => {
    const model = new Sequential([new Dense({ units: 3, activation: 'softmax' })], { seed: 2 });
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const ds = data
      .array(rows(40))
      .map((e) => [e.x, e.y])
      .batch(8);
    const seenBatches: number[] = [];
    const h = await model.fitDataset(ds, {
      epochs: 2,
      verbose: 0,
      validationData: ds,
      validationBatches: 2,
      callbacks: [{ onBatchEnd: (b) => void seenBatches.push(b) }],
    });
    expect(model.built).toBe(true);
    expect(Object.keys(h.history).sort()).toEqual(['loss', 'val_loss']);
    expect(seenBatches).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    const two = await model.evaluateDataset(ds, { batches: 2 });
    expect(h.history.val_loss[1]).toBe(two.loss);
  });

  it('with batchesPerEpoch keeps one iterator across epochs, and stops with a warning when the data runs out', async () => {
    const model = makeModel();
    const warnings: string[] = [];
    const ds = data
      .array(rows(48))
      .map((e) => ({ xs: e.x, ys: e.y }))
      .batch(8); // 6 batches
    const h = await model.fitDataset(ds, { epochs: 5, batchesPerEpoch: 4, verbose: 0, warn: (m) => warnings.push(m) });
    expect(h.history.loss.length).toBe(2); // 4 batches, then 2 and the data ends
    expect(warnings.join()).toMatch(/ran out of data.*batchesPerEpoch × epochs = 20 batches/);
    await expect(model.fitDataset(ds.repeat(), { verbose: 0 })).rejects.toThrow(/never ends.*batchesPerEpoch/);
  });

  it('refuses elements that are not batches of a tensor per input and output, saying what to do', async () => {
    const model = makeModel();
    const unbatched = data.array(rows(4)).map((e) => ({ xs: e.x, ys: e.y }));
    await expect(model.fitDataset(unbatched, { verbose: 0 })).rejects.toThrow(
      /element 0's xs is a list of 4, not a Tensor: batch the dataset first/,
    );
    const objects = data
      .array(rows(4))
      .map((e) => ({ xs: { a: e.x[0], b: e.x[1] }, ys: e.y }))
      .batch(2);
    await expect(model.fitDataset(objects, { verbose: 0 })).rejects.toThrow(
      /element 0: x names unknown input 'a' \(the model's inputs: input\)/,
    );
    await expect(model.fitDataset(data.array([1, 2]).batch(2), { verbose: 0 })).rejects.toThrow(
      /element 0 is object; each element is one batch, \{ xs, ys \} or \[xs, ys\]/,
    );
  });
});

/** A CSV of the rows in a storage that counts the bytes read from it. */
function csvStorage(r: Array<{ x: number[]; y: number }>) {
  const storage = new MemoryStorage();
  const reads: Array<[number, number]> = [];
  const counted: Storage = Object.create(storage, {
    openRead: {
      value: async (path: string) => {
        const h = await storage.openRead(path);
        return {
          size: h.size,
          read: async (offset: number, length: number, into?: Uint8Array) => {
            const got = await h.read(offset, length, into);
            if (path.endsWith('.csv')) reads.push([offset, got.length]);
            return got;
          },
          close: () => h.close(),
        };
      },
    },
  });
  const text = ['a,b,c,d,label', ...r.map((e) => [...e.x, e.y].join(','))].join('\n') + '\n';
  return { storage: counted, reads, text, ready: write(storage, text) };
}

async function write(storage: Storage, text: string) {
  await storage.mkdirp('/data');
  const w = await storage.createExclusive('/data/train.csv');
  await w.write([new TextEncoder().encode(text)]);
  await w.close();
}

const pipelineOver = (storage: Storage) =>
  data
    .csv('/data/train.csv', { storage, chunkSize: 256, columnConfigs: { label: { isLabel: true } } })
    .map((e: any) => ({ xs: Object.values(e.xs) as number[], ys: e.ys.label as number }))
    .shuffle(16, 3)
    .batch(8);

describe('fitDataset resumed from a backup', () => {
  it('a generator that throws stops the fit with a DataError; the last backup stays whole and the fixed rerun resumes from it', async () => {
    const r = rows(64, 6);
    let failAt = 37; // the element the "sensor" dies on, the first time
    const source = () =>
      data
        .generator(function* () {
          for (let i = 0; i < r.length; i++) {
            if (i === failAt) throw new Error('sensor offline');
            yield { xs: r[i].x, ys: r[i].y };
          }
        })
        .batch(8);
    const backups = new MemoryStorage();
    const backup = () => new BackupAndRestore({ backupDir: '/run', storage: backups, saveFreq: 2 });
    const first = makeModel();
    const e = await first.fitDataset(source(), { epochs: 2, verbose: 0, callbacks: [backup()] }).catch((err) => err);
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/threw producing element 37: sensor offline/);
    failAt = -1;
    const rerun = makeModel();
    const seen: Array<[number, number]> = [];
    await rerun.fitDataset(source(), {
      epochs: 2,
      verbose: 0,
      callbacks: [backup(), { onBatchEnd: (b) => void seen.push([rerun.history.epoch.length, b]) }],
    });
    // Batches 0-3 of epoch 0 were backed up (every 2), batch 4 died: the rerun starts at batch 4.
    expect(seen[0]).toEqual([0, 4]);
    const whole = makeModel();
    await whole.fitDataset(source(), { epochs: 2, verbose: 0 });
    expect(weightsOf(rerun)).toEqual(weightsOf(whole));
  });

  it('interrupted at any batch, continues at the next sample from the saved byte offset and ends bit-identical', async () => {
    const r = rows(120, 4);
    const reference = csvStorage(r);
    await reference.ready;
    const whole = makeModel();
    const wholeHistory = await whole.fitDataset(pipelineOver(reference.storage), { epochs: 3, verbose: 0 });

    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 44 }), fc.integer({ min: 1, max: 5 }), async (cut, saveFreq) => {
        const files = csvStorage(r);
        await files.ready;
        const backups = new MemoryStorage();
        const backup = () => new BackupAndRestore({ backupDir: '/run', storage: backups, saveFreq });
        let n = 0;
        const first = makeModel();
        const stop = new (class extends Callback {
          override async onBatchEnd() {
            if (++n === cut) void first.interrupt('test');
          }
        })();
        const stopped = await first
          .fitDataset(pipelineOver(files.storage), { epochs: 3, verbose: 0, callbacks: [backup(), stop] })
          .catch((e) => e);
        if (!(stopped instanceof TrainingInterruptedError)) return; // the cut fell after the last batch
        const readBefore = files.reads.length;
        const resumed = makeModel(); // the same script, run again
        let readInResumedEpoch: number | null = null;
        const h = await resumed.fitDataset(pipelineOver(files.storage), {
          epochs: 3,
          verbose: 0,
          callbacks: [backup(), { onEpochEnd: () => void (readInResumedEpoch ??= files.reads.length) }],
        });
        expect(weightsOf(resumed)).toEqual(weightsOf(whole));
        expect(h.history).toEqual(wholeHistory.history);
        // Mid-epoch, the resumed pass reads from where the backup's position stood: nothing before it.
        const resumedPass = files.reads.slice(readBefore, readInResumedEpoch!);
        const batchesPerEpoch = 15;
        if (cut % batchesPerEpoch !== 0) for (const [offset] of resumedPass) expect(offset).toBeGreaterThan(0);
      }),
      { numRuns: 12 },
    );
  }, 120_000);
});
