/** NaN and Infinity as PyTorch and TensorFlow treat them: propagated, noticed, never hidden. */
import { describe, it, expect, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Callback,
  CheckpointError,
  MemoryStorage,
  Tensor,
  TerminateOnNaN,
  clip,
  max,
  maxPool2d,
  relu,
  tensor,
} from '../../src/node/index.js';
import { dataFor, makeModel } from '../../harness/training.js';

const dir = mkdtempSync(join(tmpdir(), 'wpt-nan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ops propagate NaN', () => {
  it('relu, max, maxPool2d and clip', () => {
    expect(Array.from(relu(tensor([NaN, -1, 2, -Infinity, Infinity])).data)).toEqual([NaN, 0, 2, 0, Infinity]);
    expect(max(tensor([1, NaN, 3])).item()).toBeNaN();
    expect(
      Array.from(
        max(
          tensor([
            [1, 2],
            [NaN, 0],
            [5, NaN],
          ]),
          1,
        ).data,
      ),
    ).toEqual([2, NaN, NaN]);
    const pooled = maxPool2d(new Tensor(Float32Array.of(1, NaN, 3, 4, 5, 6, 7, 8), [1, 2, 4, 1]), { poolSize: 2 });
    expect(Array.from(pooled.data)).toEqual([NaN, 8]);
    expect(Array.from(clip(tensor([NaN, -5, 5]), -1, 1).data)).toEqual([NaN, -1, 1]);
  });

  it('gradients still flow to the first maximum, and a NaN window routes its gradient to the NaN', () => {
    const x = new Tensor(Float32Array.of(1, NaN, NaN, 4), [1, 2, 2, 1], true);
    maxPool2d(x, { poolSize: 2 }).sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([0, 1, 0, 0]);
  });
});

describe('a NaN in the data', () => {
  it('reaches the loss, and TerminateOnNaN stops at the batch whose loss is NaN', async () => {
    const [x, y] = dataFor('mlp', 48, 4);
    x.data[21 * 6 + 2] = NaN; // sample 21: batch 2 of batches of 8 (no shuffling)
    const model = makeModel('mlp', 1);
    const said: string[] = [];
    const seen: number[] = [];
    await model.fit(x, y, {
      epochs: 3,
      batchSize: 8,
      shuffle: false,
      verbose: 0,
      callbacks: [
        new TerminateOnNaN({ write: (l) => said.push(l) }),
        new (class extends Callback {
          override async onBatchEnd(b: number) {
            seen.push(b);
          }
        })(),
      ],
    });
    expect(said).toEqual(['Batch 2: invalid loss NaN, terminating training']);
    expect(seen).toEqual([0, 1, 2]);
    expect(model.history.history.loss[0]).toBeNaN();
  });
});

describe('saving non-finite weights', () => {
  const poisoned = () => {
    const model = makeModel('mlp', 2);
    model.build([6]);
    const kernel = model.namedParams()[0][1];
    kernel.data[3] = NaN;
    kernel.data[4] = Infinity;
    return model;
  };

  it("warns by default, naming the entries and counts; 'error' refuses before writing; 'allow' is silent", async () => {
    const storage = new MemoryStorage();
    const warnings: string[] = [];
    await poisoned().save('/m/warn.wpt', { storage, warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /saving \/m\/warn\.wpt with non-finite values in 1 entry: 'model\/layers\/0\/kernel' \(1 NaN, 1 infinite of 48\)/,
    );
    const err = await poisoned()
      .save('/m/error.wpt', { storage, onNonFinite: 'error' })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.code).toBe('NON_FINITE');
    expect(storage.files.has('/m/error.wpt')).toBe(false);
    await poisoned().save('/m/allow.wpt', { storage, onNonFinite: 'allow', warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
  });

  it('waypoint inspect shows min, max, mean and the NaN and Inf counts of every entry, and warns', async () => {
    const path = join(dir, 'poisoned.wpt');
    await poisoned().save(path, { onNonFinite: 'allow' });
    const r = spawnSync(
      process.execPath,
      [join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js'), 'inspect', path],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    const header = r.stdout.split('\n').find((l) => l.startsWith('entry'))!;
    expect(header).toMatch(/min\s+max\s+mean\s+NaN\s+Inf$/);
    const kernel = r.stdout.split('\n').find((l) => l.startsWith('model/layers/0/kernel'))!;
    expect(kernel).toMatch(/\s1\s+1$/);
    expect(r.stdout).toMatch(/warning: non-finite values in 1 entry: model\/layers\/0\/kernel \(1 NaN, 1 Inf\)/);
    expect(r.stdout).toMatch(/checksums: all \d+ entries and the header verify/);
  });
});
