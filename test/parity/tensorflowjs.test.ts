import { describe, it, expect } from 'vitest';
import {
  ArgumentError,
  Checkpoint,
  Dense,
  MemoryStorage,
  Sequential,
  ShapeError,
  Tensor,
  setDefaultStorage,
  fsStorage,
} from '../../src/node/index.js';
import { dataFor, makeModel } from '../../harness/training.js';

/** TensorFlow.js conventions a user of it relies on. */
describe('TensorFlow.js conventions', () => {
  const [x, y] = dataFor('mlp');

  it('callbacks may be plain objects with any of the hooks, sync or async, called with `this` as the object', async () => {
    const model = makeModel('mlp', 1);
    const seen: Array<[string, number, number?]> = [];
    const hooks = {
      count: 0,
      onBatchEnd(batch: number) {
        this.count++;
        seen.push(['batch', batch]);
      },
      async onEpochEnd(epoch: number, logs?: Record<string, number>) {
        await new Promise((r) => setTimeout(r, 1));
        seen.push(['epoch', epoch, logs?.loss]);
      },
    };
    await model.fit(x, y, { epochs: 2, batchSize: 30, verbose: 0, callbacks: [hooks] });
    expect(hooks.count).toBe(4);
    expect(seen.map((s) => s.slice(0, 2))).toEqual([
      ['batch', 0],
      ['batch', 1],
      ['epoch', 0],
      ['batch', 0],
      ['batch', 1],
      ['epoch', 1],
    ]);
    expect(seen.filter((s) => s[0] === 'epoch').map((s) => s[2])).toEqual(model.history.history.loss);
  });

  it('a misspelt hook or a hook that is not a function is refused, naming it', async () => {
    const model = makeModel('mlp', 1);
    await expect(model.fit(x, y, { verbose: 0, callbacks: [{ onEpochEnded() {} } as never] })).rejects.toThrow(
      /unknown hook 'onEpochEnded'/,
    );
    await expect(model.fit(x, y, { verbose: 0, callbacks: [{ onEpochEnd: 3 } as never] })).rejects.toThrow(
      ArgumentError,
    );
  });

  it("a first layer's inputShape builds the model at construction: a checkpoint reads into a model that never trained", async () => {
    const storage = new MemoryStorage();
    setDefaultStorage(storage);
    try {
      const trained = makeModel('mlp', 1);
      await trained.fit(x, y, { epochs: 1, verbose: 0 });
      await new Checkpoint({ model: trained }).write('/m.wpt');
      const fresh = new Sequential(
        [new Dense({ units: 8, activation: 'relu', inputShape: [6] }), new Dense({ units: 3, activation: 'softmax' })],
        { seed: 9 },
      );
      expect(fresh.built).toBe(true);
      await new Checkpoint({ model: fresh }).read('/m.wpt');
      expect(Array.from(fresh.predict(x).data)).toEqual(Array.from(trained.predict(x).data));
    } finally {
      setDefaultStorage(fsStorage);
    }
  });

  it('layers added to a built model are built on the previous output, with the same weights as a model built at once', () => {
    const atOnce = new Sequential([new Dense({ units: 4, inputShape: [6] }), new Dense({ units: 2 })], { seed: 3 });
    const added = new Sequential([], { seed: 3 });
    added.add(new Dense({ units: 4, inputShape: [6] }));
    expect(added.built).toBe(true);
    added.add(new Dense({ units: 2 }));
    expect(added.namedParams().map(([k, w]) => [k, w.shape, Array.from(w.data)])).toEqual(
      atOnce.namedParams().map(([k, w]) => [k, w.shape, Array.from(w.data)]),
    );
  });

  it('fit and predict on samples of another shape throw a ShapeError naming both shapes', async () => {
    const model = makeModel('mlp', 1);
    const wide = new Tensor(new Float32Array(60 * 7), [60, 7]);
    const err = await model.fit(wide, y, { verbose: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(ShapeError);
    expect(err.message).toMatch(/\[6\].*\[7\]/);
    expect(() => model.predict(wide)).toThrow(/\[6\].*\[7\]/);
  });
});
