/**
 * The models the PyTorch interop goldens are made from: between them every layer Waypoint
 * maps to torch, each trained one epoch (so BatchNormalization's statistics and every weight
 * are far from their initial values), with a fixed input batch. Deterministic: the same
 * seeds give the same bytes, so the committed files can be regenerated and compared.
 */
import {
  AveragePooling2D,
  BatchNormalization,
  Conv2D,
  Dense,
  Dropout,
  Embedding,
  Flatten,
  GRU,
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  LSTM,
  LayerNormalization,
  MaxPool2D,
  Random,
  Reshape,
  SGD,
  Sequential,
  Tensor,
  oneHot,
} from '../src/node/index.js';

export interface InteropCase {
  name: string;
  model: Sequential;
  /** The input batch, as Waypoint takes it (NHWC images; ids as floats). */
  x: Tensor;
  /** 'ids' when the first layer is an Embedding (torch wants int64). */
  ids: boolean;
}

const CASES: Array<{ name: string; layers: () => Sequential['layers']; inputShape: number[]; ids?: number }> = [
  {
    name: 'cnn',
    inputShape: [6, 6, 2],
    layers: () => [
      new Conv2D({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [6, 6, 2] }),
      new BatchNormalization(),
      new MaxPool2D({ poolSize: 2 }),
      new Conv2D({ filters: 4, kernelSize: 2, strides: 2, padding: 'same' }),
      new Flatten(),
      new Dense({ units: 5, activation: 'relu' }),
      new Dropout({ rate: 0.2 }),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
  },
  {
    name: 'pools',
    inputShape: [7, 7, 2],
    layers: () => [
      new Conv2D({ filters: 3, kernelSize: 2, dilationRate: 2, activation: 'tanh', inputShape: [7, 7, 2] }),
      new MaxPool2D({ poolSize: 2, strides: 1, padding: 'same' }),
      new AveragePooling2D({ poolSize: 3, strides: 1, padding: 'same' }),
      new GlobalMaxPooling2D(),
      new Dense({ units: 3, activation: 'sigmoid' }),
    ],
  },
  {
    name: 'global-average',
    inputShape: [5, 5, 3],
    layers: () => [
      new AveragePooling2D({ poolSize: 2, inputShape: [5, 5, 3] }),
      new GlobalAveragePooling2D(),
      new BatchNormalization(),
      new Dense({ units: 3 }),
    ],
  },
  {
    name: 'sequence',
    inputShape: [5],
    ids: 10,
    layers: () => [
      new Embedding({ inputDim: 10, outputDim: 4, inputShape: [5] }),
      new LSTM({ units: 6, returnSequences: true }),
      new LayerNormalization(),
      new GRU({ units: 5 }),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
  },
  {
    name: 'reshape',
    inputShape: [12],
    layers: () => [
      new Reshape({ targetShape: [3, 4], inputShape: [12] }),
      new Dense({ units: 5, activation: 'tanh' }),
      new LSTM({ units: 3 }),
      new Dense({ units: 2 }),
    ],
  },
];

export const INTEROP_CASE_NAMES = CASES.map((c) => c.name);

export async function interopCase(name: string): Promise<InteropCase> {
  const spec = CASES.find((c) => c.name === name)!;
  const model = new Sequential(spec.layers(), { seed: 7 });
  const rng = new Random(11);
  const n = 16,
    size = spec.inputShape.reduce((a, b) => a * b, 1);
  const data = (count: number) =>
    spec.ids
      ? Float32Array.from({ length: count * size }, () => Math.floor(rng.uniform() * spec.ids!))
      : rng.fillUniform(new Float32Array(count * size), -1, 1);
  const outputs = model.build()[0];
  model.compile({ optimizer: new SGD({ learningRate: 0.1, momentum: 0.5 }), loss: 'mse' });
  await model.fit(
    new Tensor(data(n), [n, ...spec.inputShape]),
    oneHot(
      Array.from({ length: n }, (_, i) => i % outputs),
      outputs,
    ),
    { epochs: 1, batchSize: 4, verbose: 0 },
  );
  return { name, model, x: new Tensor(data(4), [4, ...spec.inputShape]), ids: spec.ids !== undefined };
}
