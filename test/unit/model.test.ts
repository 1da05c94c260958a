import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  Sequential,
  Dense,
  Conv2D,
  MaxPool2D,
  Flatten,
  Dropout,
  Activation,
  Adam,
  SGD,
  Random,
  Tensor,
  tensor,
  randn,
  mul,
  sum,
  ArgumentError,
  ShapeError,
  Callback,
  type Layer,
  type Logs,
  LOSSES,
  oneHot,
  softmax,
} from '../../src/node/index.js';
import { blobs } from '../../harness/training.js';

/**
 * Layer gradients by finite differences: L = Σ layer(x)·V, differentiated in float32
 * with central differences (h = 1e-2) against autograd, for the input and every weight.
 */
function checkLayerGradients(layer: Layer, inputShape: number[], seed: number): void {
  const rng = new Random(seed);
  const model = new Sequential([layer], { seed });
  model.build(inputShape.slice(1));
  const x = randn(inputShape, rng, true);
  const ctx = { training: true, rng: new Random(seed) };
  const out = model.forward(x, { ...ctx, rng: new Random(seed) });
  const v = randn(out.shape, rng);
  sum(mul(out, v)).backward();
  const lossAt = () => {
    const y = model.forward(x, { ...ctx, rng: new Random(seed) }).data;
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * v.data[i];
    return s;
  };
  const targets: Array<[string, Tensor]> = [['input', x], ...layer.namedWeights()];
  for (const [name, t] of targets) {
    const grad = t.grad!.data;
    for (let i = 0; i < t.size; i++) {
      const orig = t.data[i];
      const h = 1e-2;
      t.data[i] = orig + h;
      const up = lossAt();
      t.data[i] = orig - h;
      const down = lossAt();
      t.data[i] = orig;
      const numeric = (up - down) / (2 * h);
      if (Math.abs(numeric - grad[i]) > 2e-3 + 2e-3 * Math.abs(numeric)) {
        expect.fail(`${layer.className} d/d${name}[${i}]: autograd ${grad[i]}, finite difference ${numeric}`);
      }
    }
  }
}

describe('layer gradients match finite differences', () => {
  const seeds = fc.nat();
  it('Dense (tanh, sigmoid, softmax, linear; with and without bias)', () => {
    fc.assert(
      fc.property(
        seeds,
        fc.constantFrom('tanh', 'sigmoid', 'softmax', 'linear') as fc.Arbitrary<'tanh'>,
        fc.boolean(),
        (seed, act, useBias) => {
          checkLayerGradients(new Dense({ units: 3, activation: act, useBias }), [2, 4], seed);
        },
      ),
      { numRuns: 10 },
    );
  });
  it('Conv2D (both paddings, stride 1 and 2)', () => {
    fc.assert(
      fc.property(
        seeds,
        fc.constantFrom('same', 'valid') as fc.Arbitrary<'same'>,
        fc.constantFrom(1, 2),
        (seed, padding, strides) => {
          checkLayerGradients(
            new Conv2D({ filters: 2, kernelSize: [2, 3], strides, padding, activation: 'tanh' }),
            [2, 5, 4, 2],
            seed,
          );
        },
      ),
      { numRuns: 8 },
    );
  });
  it('MaxPool2D, Flatten, Dropout, Activation', () => {
    checkLayerGradients(new MaxPool2D({ poolSize: 2, strides: 1 }), [1, 3, 3, 2], 1);
    checkLayerGradients(new Flatten(), [2, 2, 3, 1], 2);
    checkLayerGradients(new Dropout({ rate: 0.4 }), [3, 5], 3);
    checkLayerGradients(new Activation({ activation: 'sigmoid' }), [3, 4], 4);
  });
});

describe('losses', () => {
  it('fused softmax cross-entropy equals the probability form and has gradient (softmax − y)/batch', () => {
    const logits = tensor(
      [
        [2, -1, 0.5],
        [0.1, 0.2, 3],
      ],
      undefined,
      true,
    );
    const y = oneHot([0, 2], 3);
    const fused = LOSSES.categoricalCrossentropy(y, logits, true);
    const plain = LOSSES.categoricalCrossentropy(y, softmax(logits.detach()), false);
    expect(fused.item()).toBeCloseTo(plain.item(), 5);
    fused.backward();
    const p = softmax(logits.detach()).data;
    logits.grad!.data.forEach((g, i) => expect(g).toBeCloseTo((p[i] - y.data[i]) / 2, 6));
  });

  it('cross-entropy from logits stays finite for huge logits', () => {
    const y = oneHot([1], 2);
    expect(LOSSES.categoricalCrossentropy(y, tensor([[1000, -1000]]), true).item()).toBeCloseTo(2000, 1);
    expect(Number.isFinite(LOSSES.binaryCrossentropy(tensor([[1]]), tensor([[-1000]]), true).item())).toBe(true);
  });

  it('binary cross-entropy from logits equals the sigmoid form; sparse equals one-hot', () => {
    const z = tensor([[0.3], [-2], [4]]),
      y = tensor([[1], [0], [1]]);
    const sig = z.sigmoid();
    expect(LOSSES.binaryCrossentropy(y, z, true).item()).toBeCloseTo(
      LOSSES.binaryCrossentropy(y, sig, false).item(),
      5,
    );
    const logits = randn([4, 5], new Random(1));
    const labels = tensor([0, 4, 2, 2]);
    expect(LOSSES.sparseCategoricalCrossentropy(labels, logits, true).item()).toBeCloseTo(
      LOSSES.categoricalCrossentropy(oneHot([0, 4, 2, 2], 5), logits, true).item(),
      6,
    );
    expect(LOSSES.mse(tensor([1, 2]), tensor([2, 4]), false).item()).toBeCloseTo(2.5);
  });
});

function mlp(seed: number, dropout = 0): Sequential {
  const model = new Sequential(
    [
      new Dense({ units: 8, activation: 'relu', inputShape: [6] }),
      ...(dropout > 0 ? [new Dropout({ rate: dropout })] : []),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
    { seed },
  );
  model.compile({
    optimizer: new Adam({ learningRate: 0.01 }),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return model;
}

const weightsOf = (m: Sequential) => m.namedParams().map(([k, t]) => [k, Array.from(t.data)]);

describe('Sequential training', () => {
  const [x, y] = blobs(120, 1);

  it('learns, and reports Keras-style logs', async () => {
    const model = mlp(1);
    const history = await model.fit(x, y, { epochs: 15, batchSize: 16, verbose: 0, validationSplit: 0.25 });
    expect(history.epoch).toEqual([...Array(15).keys()]);
    expect(Object.keys(history.history).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    expect(history.history.loss[14]).toBeLessThan(history.history.loss[0]);
    expect(history.history.accuracy[14]).toBeGreaterThan(0.85);
    expect(model.currentEpoch).toBe(15);
    const evalLogs = await model.evaluate(x, y);
    expect(evalLogs.accuracy).toBeGreaterThan(0.85);
  });

  it('is deterministic: the same seed gives bit-identical weights and history, another seed differs', async () => {
    const run = async (seed: number) => {
      const m = mlp(seed, 0.2);
      await m.fit(x, y, { epochs: 3, batchSize: 10, verbose: 0 });
      return { w: weightsOf(m), h: m.history.history };
    };
    const [a, b, c] = [await run(7), await run(7), await run(8)];
    expect(b).toEqual(a);
    expect(c.w).not.toEqual(a.w);
  });

  it('fit in two calls with initialEpoch equals one straight fit, and the history continues', async () => {
    const straight = mlp(3, 0.1);
    await straight.fit(x, y, { epochs: 4, batchSize: 16, verbose: 0 });
    const split = mlp(3, 0.1);
    await split.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
    await split.fit(x, y, { epochs: 4, batchSize: 16, verbose: 0, initialEpoch: split.currentEpoch });
    expect(weightsOf(split)).toEqual(weightsOf(straight));
    expect(split.history.epoch).toEqual([0, 1, 2, 3]);
    expect(split.history.history).toEqual(straight.history.history);
  });

  it('refitting from an earlier initialEpoch drops the history entries past it', async () => {
    const m = mlp(4);
    await m.fit(x, y, { epochs: 3, verbose: 0 });
    await m.fit(x, y, { epochs: 2, initialEpoch: 1, verbose: 0 });
    expect(m.history.epoch).toEqual([0, 1]);
    expect(m.history.history.loss).toHaveLength(2);
  });

  it('awaits async callback hooks in order and stops on model.stopTraining', async () => {
    const events: string[] = [];
    class Recorder extends Callback {
      override async onTrainBegin() {
        events.push('trainBegin');
      }
      override async onEpochBegin(e: number) {
        await new Promise((r) => setTimeout(r, 1));
        events.push(`epochBegin ${e}`);
      }
      override async onBatchEnd(b: number) {
        if (b === 0) events.push('batch 0');
      }
      override async onEpochEnd(e: number, logs?: Logs) {
        events.push(`epochEnd ${e} ${typeof logs?.loss}`);
        if (e === 1) this.model.stopTraining = true;
      }
      override async onTrainEnd() {
        events.push('trainEnd');
      }
    }
    await mlp(5).fit(x, y, { epochs: 5, verbose: 0, callbacks: [new Recorder()] });
    expect(events).toEqual([
      'trainBegin',
      'epochBegin 0',
      'batch 0',
      'epochEnd 0 number',
      'epochBegin 1',
      'batch 0',
      'epochEnd 1 number',
      'trainEnd',
    ]);
  });

  it('validates its arguments before training', async () => {
    const m = mlp(6);
    await expect(m.fit(tensor(new Float32Array(0), [0, 6]), tensor(new Float32Array(0), [0, 3]))).rejects.toThrow(
      /x is empty/,
    );
    await expect(m.fit(x, oneHot([0, 1], 3))).rejects.toThrow('fit: x has 120 samples ([120,6]) but y has 2 ([2,3])');
    await expect(m.fit(x, y, { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer, got 0/);
    await expect(m.fit(x, y, { epochs: 2, initialEpoch: 3 })).rejects.toThrow(
      /initialEpoch must be an integer in \[0, epochs=2\]/,
    );
    await expect(new Sequential([new Dense({ units: 1 })]).fit(x, y)).rejects.toThrow(/compile the model first/);
    expect(() => m.compile({ optimizer: 'adam', loss: 'hinge' as 'mse' })).toThrow(ArgumentError);
    expect(() => m.compile({ optimizer: 'adam', loss: 'mse', metrics: ['f1'] })).toThrow(/unknown metric 'f1'/);
    const wrong = new Sequential([new Dense({ units: 2, inputShape: [5] })]);
    wrong.compile({ optimizer: new SGD(), loss: 'mse' });
    await expect(wrong.fit(x, y)).rejects.toThrow(ShapeError);
  });

  it('predicts in batches exactly as in one batch', () => {
    const m = mlp(9);
    expect(m.predict(x, { batchSize: 7 }).data).toEqual(m.predict(x, { batchSize: 1000 }).data);
  });

  it('rebuilds from its config with the same output shapes and parameter count', () => {
    const model = new Sequential(
      [
        new Conv2D({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [8, 8, 1] }),
        new MaxPool2D({ poolSize: 2 }),
        new Flatten(),
        new Dropout({ rate: 0.5 }),
        new Dense({ units: 10, activation: 'softmax' }),
      ],
      { seed: 3, name: 'cnn' },
    );
    const again = Sequential.fromConfig(JSON.parse(JSON.stringify(model.getConfig())));
    expect(again.build()).toEqual(model.build());
    expect(again.countParams()).toBe(model.countParams());
    expect(again.getConfig()).toEqual(model.getConfig());
    const lines: string[] = [];
    model.summary((l) => lines.push(l));
    expect(lines.join('\n')).toMatch(/Total params: 690/);
  });
});
