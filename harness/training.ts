import {
  Add,
  Concatenate,
  Input,
  Model,
  type ModelData,
  Sequential,
  Dense,
  Dropout,
  Conv2D,
  Flatten,
  Adam,
  AdamW,
  SGD,
  Random,
  Tensor,
  oneHot,
  BatchNormalization,
  LSTM,
  CosineDecay,
  ReduceLROnPlateau,
  type Callback,
} from '../src/node/index.js';

/** Three Gaussian blobs in 6-D: a small, learnable classification problem. */
export function blobs(n: number, seed: number): [Tensor, Tensor] {
  const rng = new Random(seed);
  const x = new Float32Array(n * 6),
    labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels.push(c);
    for (let j = 0; j < 6; j++) x[i * 6 + j] = rng.normal(j % 3 === c ? 1.5 : 0, 0.7);
  }
  return [new Tensor(x, [n, 6]), oneHot(labels, 3)];
}

/**
 * `sequence`: BatchNormalization and an LSTM on the blobs as sequences [n, 3, 2], trained by
 * AdamW on a warmed-up CosineDecay; `plateau`: an MLP under SGD whose rate ReduceLROnPlateau
 * lowers (see `callbacksFor`); `ema`: the MLP under Adam keeping a moving average of its
 * weights, which overwrites them every 5 steps.
 */
export type Kind = 'mlp' | 'dropout' | 'sgd' | 'cnn' | 'sequence' | 'plateau' | 'ema';

function layersFor(kind: Kind) {
  if (kind === 'cnn')
    return [
      new Conv2D({ filters: 3, kernelSize: 2, padding: 'same', activation: 'relu', inputShape: [2, 3, 1] }),
      new Flatten(),
      new Dense({ units: 3, activation: 'softmax' }),
    ];
  if (kind === 'sequence')
    return [
      new BatchNormalization({ inputShape: [3, 2] }),
      new LSTM({ units: 5 }),
      new Dense({ units: 3, activation: 'softmax' }),
    ];
  return [
    new Dense({ units: 8, activation: 'relu', inputShape: [6] }),
    ...(kind === 'dropout' ? [new Dropout({ rate: 0.3 })] : []),
    new Dense({ units: 3, activation: 'softmax' }),
  ];
}

function optimizerFor(kind: Kind) {
  if (kind === 'sgd') return new SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true });
  if (kind === 'plateau') return new SGD({ learningRate: 0.2, momentum: 0.5 });
  if (kind === 'ema') return new Adam({ learningRate: 0.01, ema: { momentum: 0.9, overwriteFrequency: 5 } });
  if (kind === 'sequence')
    return new AdamW({
      learningRate: new CosineDecay({
        initialLearningRate: 0.001,
        decaySteps: 20,
        alpha: 0.1,
        warmupTarget: 0.05,
        warmupSteps: 4,
      }),
    });
  return new Adam({ learningRate: 0.01 });
}

/** A fresh, compiled model; `cnn` expects the blobs reshaped to [n, 2, 3, 1], `sequence` to [n, 3, 2]. */
export function makeModel(kind: Kind, seed: number): Sequential {
  const model = new Sequential(layersFor(kind), { seed });
  model.compile({ optimizer: optimizerFor(kind), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** The callbacks a kind trains with besides the test's own (the plateau's reducer: it reduces within a few epochs here). */
export function callbacksFor(kind: Kind): Callback[] {
  return kind === 'plateau'
    ? [new ReduceLROnPlateau({ monitor: 'loss', factor: 0.5, patience: 1, minDelta: 0.2, cooldown: 1 })]
    : [];
}

export function dataFor(kind: Kind, n = 60, seed = 1): [Tensor, Tensor] {
  const [x, y] = blobs(n, seed);
  if (kind === 'cnn') return [new Tensor(x.data, [n, 2, 3, 1]), y];
  return kind === 'sequence' ? [new Tensor(x.data, [n, 3, 2]), y] : [x, y];
}

/**
 * A functional model on the same blobs: the features as two inputs (`left`, `right`: three
 * each), a residual block with BatchNormalization and Dropout on one, merged by Concatenate,
 * two outputs (`label`: the class, softmax; `sum`: the features' sum, regression) weighted
 * in the loss.
 */
export function makeFunctional(seed: number): Model {
  const left = Input({ shape: [3], name: 'left' });
  const right = Input({ shape: [3], name: 'right' });
  const h = new Dense({ units: 3, activation: 'relu', name: 'h' }).apply(left);
  const residual = new Add({ name: 'residual' }).apply([left, new BatchNormalization({ name: 'bn' }).apply(h)]);
  const joined = new Concatenate({ name: 'joined' }).apply([
    new Dropout({ rate: 0.2, name: 'drop' }).apply(residual),
    right,
  ]);
  const hidden = new Dense({ units: 8, activation: 'tanh', name: 'hidden' }).apply(joined);
  const label = new Dense({ units: 3, activation: 'softmax', name: 'label' }).apply(hidden);
  const sum = new Dense({ units: 1, name: 'sum' }).apply(hidden);
  const model = new Model({ inputs: [left, right], outputs: [label, sum], seed });
  model.compile({
    optimizer: new Adam({ learningRate: 0.01 }),
    loss: { label: 'categoricalCrossentropy', sum: 'mse' },
    metrics: { label: ['accuracy'] },
    lossWeights: { sum: 0.1 },
  });
  return model;
}

/** The blobs for `makeFunctional`: inputs and targets by name. */
export function functionalData(n = 60, seed = 1): [ModelData, ModelData] {
  const [x, y] = blobs(n, seed);
  const half = (from: number) =>
    new Tensor(
      Float32Array.from({ length: n * 3 }, (_, k) => x.data[Math.floor(k / 3) * 6 + from + (k % 3)]),
      [n, 3],
    );
  const sums = Float32Array.from({ length: n }, (_, i) => x.data.subarray(i * 6, i * 6 + 6).reduce((a, b) => a + b, 0));
  return [
    { left: half(0), right: half(3) },
    { label: y, sum: new Tensor(sums, [n, 1]) },
  ];
}

/** Everything that must match after a resume, as plain data (float bits compared exactly). */
export function fingerprint(model: Model) {
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  const opt = model.optimizer!.stateDict();
  const slots = (tree: unknown): unknown =>
    tree instanceof Tensor
      ? { shape: tree.shape, bits: bits(tree.data) }
      : typeof tree === 'object' && tree !== null
        ? Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, slots(v)]))
        : tree;
  return {
    weights: model.namedParams().map(([k, t]) => [k, bits(t.data)]),
    // Every weight, the non-trainable ones too (BatchNormalization's moving statistics).
    allWeights: model.getWeights().map((t) => bits(t.data)),
    optimizer: slots(opt),
    rng: model.rng.getState(),
    history: JSON.stringify(model.history.stateDict()),
    epoch: model.currentEpoch,
  };
}
