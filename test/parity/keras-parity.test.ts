/**
 * Parity with Keras 3 (torch backend), against golden values made by scripts/golden/: the
 * optimizers, schedules, clipping, weight decay and learning-rate callbacks
 * (keras_optimizers.py), and every layer's forward values and gradients (keras_layers.py).
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  Dense,
  LearningRateScheduler,
  ReduceLROnPlateau,
  SGD,
  Sequential,
  Tensor,
  optimizerFromConfig,
  scheduleFromConfig,
  type Optimizer,
  type OptimizerConfigJson,
  type ReduceLROnPlateauOptions,
  Flatten,
  Random,
  layerFromConfig,
  type Layer,
} from '../../src/node/index.js';
import { expectClose } from '../helpers/close.js';
const golden = JSON.parse(readFileSync(new URL('../golden/keras-optimizers.json', import.meta.url), 'utf8'));
const x = new Tensor(Float32Array.from(golden.x), [24, 4]);
const y = new Tensor(Float32Array.from(golden.y), [24, 3]);

function model(optimizer: Optimizer): Sequential {
  const m = new Sequential([
    new Dense({ units: 5, activation: 'relu', inputShape: [4] }),
    new Dense({ units: 3, activation: 'softmax' }),
  ]);
  m.setWeights(golden.initialWeights.map((w: number[]) => Float32Array.from(w)));
  m.compile({ optimizer, loss: 'categoricalCrossentropy' });
  return m;
}

const weightsOf = (m: Sequential) => m.getWeights().flatMap((w) => Array.from(w.data));

type Case = { waypoint: { class: string; config?: OptimizerConfigJson; schedule?: OptimizerConfigJson[string] } };
const optimizerOf = (c: Case) =>
  optimizerFromConfig({
    className: c.waypoint.class,
    config: { ...c.waypoint.config, ...(c.waypoint.schedule ? { learningRate: c.waypoint.schedule } : {}) },
  })!;

describe(`optimizers match Keras ${golden.keras} (${golden.backend} backend)`, () => {
  for (const [name, c] of Object.entries(golden.optimizers) as Array<
    [string, Case & { afterOneBatch: number[][]; epochLosses: number[]; afterThreeEpochs: number[][] }]
  >) {
    it(`${name}: one batch (1e-5), three epochs' losses and weights (1e-4)`, async () => {
      const step = model(optimizerOf(c));
      await step.fit(new Tensor(x.data.slice(0, 32), [8, 4]), new Tensor(y.data.slice(0, 24), [8, 3]), {
        epochs: 1,
        batchSize: 8,
        shuffle: false,
        verbose: 0,
      });
      expectClose(weightsOf(step), c.afterOneBatch.flat(), 1e-5, `${name} after one batch`);
      const run = model(optimizerOf(c));
      const history = await run.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
      expectClose(history.history.loss, c.epochLosses, 1e-4, `${name} epoch losses`);
      expectClose(weightsOf(run), c.afterThreeEpochs.flat(), 1e-4, `${name} after three epochs`);
    });
  }
});

describe('schedules match Keras at steps 0..12', () => {
  for (const [name, s] of Object.entries(golden.schedules) as Array<
    [string, { className: string; config: never; values: number[] }]
  >) {
    it(name, () => {
      const schedule = scheduleFromConfig({ className: s.className, config: s.config });
      expectClose(
        s.values.map((_, step) => schedule.call(step)),
        s.values,
        1e-6,
        name,
      );
    });
  }
});

describe('learning-rate callbacks match Keras, learning_rate logged as Keras logs it', () => {
  it('ReduceLROnPlateau: the same reductions at the same epochs, the same losses', async () => {
    const g = golden.reduceLROnPlateau;
    const m = model(new SGD({ learningRate: g.sgd }));
    const history = await m.fit(x, y, {
      epochs: g.epochs,
      batchSize: 8,
      shuffle: false,
      verbose: 0,
      callbacks: [new ReduceLROnPlateau(g.options as ReduceLROnPlateauOptions)],
    });
    expect(new Set(g.learning_rate).size).toBeGreaterThan(2); // the reference reduced at least twice
    expectClose(history.history.learning_rate, g.learning_rate, 1e-7, 'learning_rate');
    expectClose(history.history.loss, g.loss, 1e-4, 'loss');
    expectClose(weightsOf(m), g.finalWeights.flat(), 1e-4, 'final weights');
  });

  it('LearningRateScheduler: schedule(epoch, rate) at each epoch begin', async () => {
    const g = golden.learningRateScheduler;
    const m = model(new SGD({ learningRate: g.sgd }));
    const history = await m.fit(x, y, {
      epochs: g.epochs,
      batchSize: 8,
      shuffle: false,
      verbose: 0,
      callbacks: [new LearningRateScheduler((epoch, lr) => (epoch % 2 === 1 ? lr * 0.7 : lr))],
    });
    expectClose(history.history.learning_rate, g.learning_rate, 1e-7, 'learning_rate');
    expectClose(history.history.loss, g.loss, 1e-4, 'loss');
    expectClose(weightsOf(m), g.finalWeights.flat(), 1e-4, 'final weights');
  });
});

interface LayerCase {
  waypoint: { className: string; config: Record<string, unknown> };
  inputShape: number[];
  input: 'float' | 'int';
  flatten: boolean;
  call: {
    x: number[];
    weights: number[][];
    outputShape: number[];
    training: number[];
    inference: number[];
    inputGrad: number[] | null;
    weightGrads: Array<number[] | null>;
    weightsAfterCall: number[][];
  };
  fit: { x: number[]; y: number[]; weights: number[][]; epochLosses: number[]; weightsAfter: number[][] };
}
const layerGolden = JSON.parse(readFileSync(new URL('../golden/keras-layers.json', import.meta.url), 'utf8')) as {
  keras: string;
  backend: string;
  batch: number;
  layers: Record<string, LayerCase>;
};

function layerOf(c: LayerCase, weights: number[][]): Layer {
  const layer = layerFromConfig({ className: c.waypoint.className, config: { ...c.waypoint.config } });
  layer.build(c.inputShape, new Random(0));
  layer.setWeights(weights.map((w) => Float32Array.from(w)));
  return layer;
}

describe(`layers match Keras ${layerGolden.keras} (${layerGolden.backend} backend)`, () => {
  for (const [name, c] of Object.entries(layerGolden.layers)) {
    it(`${name}: inference, training forward, gradients of input and weights, state after the call (1e-5)`, () => {
      const shape = [layerGolden.batch, ...c.inputShape];
      const inference = layerOf(c, c.call.weights).call(new Tensor(Float32Array.from(c.call.x), shape), {
        training: false,
        rng: new Random(0),
      });
      expectClose(inference.data, c.call.inference, 1e-5, `${name} inference`);

      const layer = layerOf(c, c.call.weights);
      const x = new Tensor(Float32Array.from(c.call.x), shape, c.input === 'float');
      const out = layer.call(x, { training: true, rng: new Random(0) });
      expectClose(out.shape, c.call.outputShape, 0, `${name} output shape`);
      expectClose(out.data, c.call.training, 1e-5, `${name} training output`);
      out.backward(
        new Tensor(
          Float32Array.from({ length: out.size }, (_, i) => Math.cos(i * 0.13)),
          out.shape,
        ),
      );
      if (c.call.inputGrad) expectClose(x.grad!.data, c.call.inputGrad, 1e-5, `${name} input gradient`);
      layer.namedWeights().forEach(([weight, w], i) => {
        const expected = c.call.weightGrads[i];
        if (expected) expectClose(w.grad!.data, expected, 1e-5, `${name} gradient of ${weight}`);
        expectClose(w.data, c.call.weightsAfterCall[i], 1e-5, `${name} ${weight} after the call`);
      });
    });

    it(`${name}: two epochs of SGD in a model around it (1e-4)`, async () => {
      const n = 8;
      const model = new Sequential([
        layerFromConfig({
          className: c.waypoint.className,
          config: { ...c.waypoint.config, inputShape: c.inputShape },
        }),
        ...(c.flatten ? [new Flatten()] : []),
        new Dense({ units: 2, activation: 'softmax' }),
      ]);
      model.setWeights(c.fit.weights.map((w) => Float32Array.from(w)));
      model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'categoricalCrossentropy' });
      const history = await model.fit(
        new Tensor(Float32Array.from(c.fit.x), [n, ...c.inputShape]),
        new Tensor(Float32Array.from(c.fit.y), [n, 2]),
        { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 },
      );
      expectClose(history.history.loss, c.fit.epochLosses, 1e-4, `${name} epoch losses`);
      model
        .getWeights()
        .forEach((w, i) => expectClose(w.data, c.fit.weightsAfter[i], 1e-4, `${name} weight ${i} after two epochs`));
    });
  }
});
