/**
 * Functional models the interop goldens are made from, beside the Sequential ones of
 * interop-cases.ts: between them every merge layer, a shared layer, a nested model, several
 * inputs (one of ids) and several outputs, images merged by channel and by sum. Each is
 * trained one epoch (BatchNormalization's statistics and every weight far from their initial
 * values) and comes with a fixed input batch per input. Deterministic, like interop-cases.ts.
 */
import {
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
  MaxPool2D,
  Maximum,
  Minimum,
  Model,
  Multiply,
  Random,
  SGD,
  Sequential,
  Subtract,
  Tensor,
} from '../src/node/index.js';

export interface FunctionalCase {
  name: string;
  model: Model;
  /** One batch per input, as Waypoint takes it (NHWC images; ids as floats). */
  xs: Tensor[];
  /** Per input: ids below this (an Embedding reads it), or undefined for floats. */
  ids: Array<number | undefined>;
}

interface Spec {
  inputs: Array<{ shape: number[]; ids?: number }>;
  build: () => Model;
}

const CASES: Record<string, Spec> = {
  // A residual block, a shared convolution on two branches, images joined by channel.
  'residual-cnn': {
    inputs: [{ shape: [6, 6, 2] }],
    build: () => {
      const x = Input({ shape: [6, 6, 2], name: 'image' });
      const stem = new Conv2D({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'stem' }).apply(
        x,
      );
      const shared = new Conv2D({ filters: 4, kernelSize: 3, padding: 'same', name: 'shared' });
      const a = shared.apply(stem);
      const b = shared.apply(new BatchNormalization({ name: 'bn' }).apply(stem));
      const residual = new Add({ name: 'residual' }).apply([stem, a]);
      const joined = new Concatenate({ name: 'channels' }).apply([residual, b]);
      const pooled = new MaxPool2D({ poolSize: 2, name: 'pool' }).apply(joined);
      const flat = new Flatten({ name: 'flat' }).apply(pooled);
      const y = new Dense({ units: 3, activation: 'softmax', name: 'probs' }).apply(flat);
      return new Model({ inputs: x, outputs: y, name: 'residual_cnn', seed: 7 });
    },
  },
  // Features beside embedded ids; a nested Sequential; every elementwise merge TensorFlow.js has; two outputs.
  'two-inputs-two-outputs': {
    inputs: [{ shape: [4] }, { shape: [3], ids: 10 }],
    build: () => {
      const features = Input({ shape: [4], name: 'features' });
      const ids = Input({ shape: [3], name: 'ids' });
      const block = new Sequential(
        [new Dense({ units: 6, activation: 'tanh', inputShape: [4] }), new Dense({ units: 6 })],
        { name: 'block' },
      );
      const f = block.apply(features);
      const e = new Dense({ units: 6, name: 'embedded' }).apply(
        new Flatten({ name: 'flat_ids' }).apply(
          new Embedding({ inputDim: 10, outputDim: 2, name: 'embed' }).apply(ids),
        ),
      );
      const mixed = new Concatenate({ name: 'mixed' }).apply([
        new Multiply({ name: 'product' }).apply([f, e]),
        new Average({ name: 'mean' }).apply([f, e]),
        new Maximum({ name: 'larger' }).apply([f, e]),
        new Minimum({ name: 'smaller' }).apply([f, e]),
      ]);
      const hidden = new Dense({ units: 8, activation: 'relu', name: 'hidden' }).apply(mixed);
      const kind = new Dense({ units: 3, activation: 'softmax', name: 'kind' }).apply(hidden);
      const score = new Dense({ units: 1, name: 'score' }).apply(hidden);
      return new Model({ inputs: [features, ids], outputs: [kind, score], name: 'two_heads', seed: 7 });
    },
  },
  // Subtract (which TensorFlow.js lacks) and a global pooling after a merge of images.
  subtract: {
    inputs: [{ shape: [5, 5, 3] }],
    build: () => {
      const x = Input({ shape: [5, 5, 3], name: 'image' });
      const a = new Conv2D({ filters: 2, kernelSize: 1, name: 'a' }).apply(x);
      const b = new Conv2D({ filters: 2, kernelSize: 1, activation: 'sigmoid', name: 'b' }).apply(x);
      const d = new Subtract({ name: 'difference' }).apply([a, b]);
      const y = new Dense({ units: 2, name: 'out' }).apply(new GlobalAveragePooling2D({ name: 'gap' }).apply(d));
      return new Model({ inputs: x, outputs: y, name: 'subtract', seed: 7 });
    },
  },
};

export const FUNCTIONAL_CASE_NAMES = Object.keys(CASES);

export async function functionalCase(name: string): Promise<FunctionalCase> {
  const spec = CASES[name];
  const model = spec.build();
  const rng = new Random(11);
  const batch = (count: number) =>
    spec.inputs.map(({ shape, ids }) => {
      const size = count * shape.reduce((a, b) => a * b, 1);
      const data = ids
        ? Float32Array.from({ length: size }, () => Math.floor(rng.uniform() * ids))
        : rng.fillUniform(new Float32Array(size), -1, 1);
      return new Tensor(data, [count, ...shape]);
    });
  const n = 16;
  const targets = model.outputShapes().map((shape) => {
    const size = n * shape.reduce((a, b) => a * b, 1);
    return new Tensor(rng.fillUniform(new Float32Array(size), 0, 1), [n, ...shape]);
  });
  model.compile({ optimizer: new SGD({ learningRate: 0.1, momentum: 0.5 }), loss: 'mse' });
  await model.fit(batch(n), targets, { epochs: 1, batchSize: 4, verbose: 0 });
  return { name, model, xs: batch(4), ids: spec.inputs.map((i) => i.ids) };
}
