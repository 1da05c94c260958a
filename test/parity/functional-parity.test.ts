/**
 * Functional models against Keras 3 (torch backend), from golden values made by
 * scripts/golden/keras_functional.py: a residual MLP, a residual CNN with BatchNormalization,
 * two inputs (numbers and an embedded category) with two outputs and loss weights, and a
 * shared layer merged by every merge layer. The same graphs are built here, layer names and
 * all, from Keras's initial weights: predictions, the gradient of the compiled loss, and three
 * epochs of Adam (history, every key, and the weights after).
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  Activation,
  Adam,
  Add,
  Average,
  BatchNormalization,
  Concatenate,
  Conv2D,
  Dense,
  Embedding,
  Flatten,
  GlobalAveragePooling2D,
  Input,
  Maximum,
  Minimum,
  Model,
  Multiply,
  Random,
  Subtract,
  Tensor,
  add,
  mul,
  noGrad,
  type CompileOptions,
} from '../../src/node/index.js';
import { expectClose } from '../helpers/close.js';

type Case = {
  inputs: Array<{ shape: number[]; data: number[] }>;
  targets: Array<{ shape: number[]; data: number[] }>;
  initialWeights: Record<string, number[][]>;
  predictions: number[][];
  firstBatchLoss: number;
  gradients: Record<string, number[][]>;
  history: Record<string, number[]>;
  weightsAfter: Record<string, number[][]>;
};
const golden = JSON.parse(readFileSync(new URL('../golden/keras-functional.json', import.meta.url), 'utf8')) as {
  keras: string;
  backend: string;
  cases: Record<string, Case>;
};

/** The same graphs as the Python script, every layer named as there. */
const BUILDERS: Record<string, () => [Model, Omit<CompileOptions, 'optimizer'>]> = {
  residual_mlp: () => {
    const x = Input({ shape: [6], name: 'x' });
    const h = new Dense({ units: 8, activation: 'relu', name: 'hidden' }).apply(x);
    const r = new Dense({ units: 8, name: 'residual' }).apply(h);
    const s = new Add({ name: 'add' }).apply([h, r]);
    const out = new Dense({ units: 3, activation: 'softmax', name: 'out' }).apply(s);
    return [
      new Model({ inputs: x, outputs: out, name: 'residual_mlp' }),
      { loss: 'categoricalCrossentropy', metrics: ['accuracy'] },
    ];
  },
  residual_cnn: () => {
    const x = Input({ shape: [6, 6, 2], name: 'image' });
    const c = new Conv2D({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv1' }).apply(x);
    let b = new Conv2D({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, name: 'conv2' }).apply(c);
    b = new BatchNormalization({ name: 'bn' }).apply(b);
    let s = new Add({ name: 'skip' }).apply([c, b]);
    s = new Activation({ activation: 'relu', name: 'relu' }).apply(s);
    const p = new GlobalAveragePooling2D({ name: 'pool' }).apply(s);
    const out = new Dense({ units: 2, activation: 'softmax', name: 'out' }).apply(p);
    return [
      new Model({ inputs: x, outputs: out, name: 'residual_cnn' }),
      { loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] },
    ];
  },
  two_inputs_two_outputs: () => {
    const num = Input({ shape: [4], name: 'num' });
    const cat = Input({ shape: [1], name: 'cat' });
    const e = new Flatten({ name: 'flat' }).apply(
      new Embedding({ inputDim: 10, outputDim: 3, name: 'embed' }).apply(cat),
    );
    let h = new Concatenate({ name: 'join' }).apply([num, e]);
    h = new Dense({ units: 8, activation: 'relu', name: 'hidden' }).apply(h);
    const out1 = new Dense({ units: 3, activation: 'softmax', name: 'out1' }).apply(h);
    const out2 = new Dense({ units: 1, name: 'out2' }).apply(h);
    return [
      new Model({ inputs: [num, cat], outputs: [out1, out2], name: 'two_by_two' }),
      { loss: ['sparseCategoricalCrossentropy', 'mse'], lossWeights: [1, 0.5], metrics: [['accuracy'], []] },
    ];
  },
  shared_layer: () => {
    const a = Input({ shape: [5], name: 'a' });
    const b = Input({ shape: [5], name: 'b' });
    const shared = new Dense({ units: 4, activation: 'tanh', name: 'shared' });
    const [ha, hb] = [shared.apply(a), shared.apply(b)];
    const mx = new Maximum({ name: 'max' }).apply([ha, hb]);
    const mn = new Minimum({ name: 'min' }).apply([ha, hb]);
    const avg = new Average({ name: 'avg' }).apply([ha, hb]);
    const prod = new Multiply({ name: 'prod' }).apply([mx, avg]);
    const diff = new Subtract({ name: 'diff' }).apply([mn, avg]);
    const c = new Concatenate({ name: 'join' }).apply([prod, diff]);
    const out = new Dense({ units: 1, activation: 'sigmoid', name: 'out' }).apply(c);
    return [
      new Model({ inputs: [a, b], outputs: out, name: 'shared' }),
      { loss: 'binaryCrossentropy', metrics: ['accuracy'] },
    ];
  },
};

const tensors = (list: Array<{ shape: number[]; data: number[] }>) =>
  list.map((t) => new Tensor(Float32Array.from(t.data), t.shape));
const rows = (t: Tensor, n: number) => new Tensor(t.data.slice(0, (t.size / t.shape[0]) * n), [n, ...t.shape.slice(1)]);

function modelFor(name: string, c: Case, optimizer = new Adam({ learningRate: 0.01 })): Model {
  const [model, compile] = BUILDERS[name]();
  for (const [layer, weights] of Object.entries(c.initialWeights))
    model.layers.find((l) => l.name === layer)!.setWeights(weights.map((w) => Float32Array.from(w)));
  model.compile({ optimizer, ...compile });
  return model;
}

describe(`functional models match Keras ${golden.keras} (${golden.backend} backend)`, () => {
  for (const [name, c] of Object.entries(golden.cases)) {
    const [xs, ys] = [tensors(c.inputs), tensors(c.targets)];

    it(`${name}: predictions (1e-5) and the compiled loss's gradient for every weight (1e-4)`, () => {
      const model = modelFor(name, c);
      model.predictAll(xs).forEach((p, i) => expectClose(p.data, c.predictions[i], 1e-5, `${name} output ${i}`));

      const compiled = model.compiled!;
      const outputs = model.forwardAll(
        xs.map((x) => rows(x, 8)),
        { training: true, rng: new Random(1), logits: compiled.logits },
      );
      const losses = compiled.outputs.map((o, i) => mul(o.loss(rows(ys[i], 8), outputs[i], o.fromLogits), o.weight));
      const total = losses.slice(1).reduce((s, l) => add(s, l), losses[0]);
      expect(total.item()).toBeCloseTo(c.firstBatchLoss, 5);
      total.backward();
      for (const [layer, grads] of Object.entries(c.gradients)) {
        const weights = model.layers.find((l) => l.name === layer)!.trainableWeights();
        expect(weights.length, `${layer}: trainable weights`).toBe(grads.length);
        weights.forEach(([w, t], i) => expectClose(t.grad!.data, grads[i], 1e-4, `${name} ${layer}/${w} gradient`));
      }
    });

    it(`${name}: three epochs of Adam — every history key (1e-4) and the weights after (1e-4)`, async () => {
      const model = modelFor(name, c);
      const history = await model.fit(xs.length > 1 ? xs : xs[0], ys.length > 1 ? ys : ys[0], {
        epochs: 3,
        batchSize: 8,
        shuffle: false,
        verbose: 0,
      });
      expect(Object.keys(history.history).sort()).toEqual(Object.keys(c.history).sort());
      for (const [key, values] of Object.entries(c.history))
        expectClose(history.history[key], values, 1e-4, `${name} ${key}`);
      noGrad(() => {
        for (const [layer, weights] of Object.entries(c.weightsAfter)) {
          const ours = model.layers.find((l) => l.name === layer)!.getWeights();
          weights.forEach((w, i) => expectClose(ours[i].data, w, 1e-4, `${name} ${layer} weight ${i} after training`));
        }
      });
    });
  }
});
