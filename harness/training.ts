import { Sequential, Dense, Dropout, Conv2D, Flatten, Adam, SGD, Random, Tensor, oneHot } from '../src/index.js';

/** Three Gaussian blobs in 6-D: a small, learnable classification problem. */
export function blobs(n: number, seed: number): [Tensor, Tensor] {
  const rng = new Random(seed);
  const x = new Float32Array(n * 6), labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels.push(c);
    for (let j = 0; j < 6; j++) x[i * 6 + j] = rng.normal(j % 3 === c ? 1.5 : 0, 0.7);
  }
  return [new Tensor(x, [n, 6]), oneHot(labels, 3)];
}

export type Kind = 'mlp' | 'dropout' | 'sgd' | 'cnn';

/** A fresh, compiled model; `cnn` expects the blobs reshaped to [n, 2, 3, 1]. */
export function makeModel(kind: Kind, seed: number): Sequential {
  const layers = kind === 'cnn'
    ? [new Conv2D({ filters: 3, kernelSize: 2, padding: 'same', activation: 'relu', inputShape: [2, 3, 1] }), new Flatten(), new Dense({ units: 3, activation: 'softmax' })]
    : [new Dense({ units: 8, activation: 'relu', inputShape: [6] }), ...(kind === 'dropout' ? [new Dropout({ rate: 0.3 })] : []), new Dense({ units: 3, activation: 'softmax' })];
  const model = new Sequential(layers, { seed });
  model.compile({ optimizer: kind === 'sgd' ? new SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true }) : new Adam({ learningRate: 0.01 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

export function dataFor(kind: Kind, n = 60, seed = 1): [Tensor, Tensor] {
  const [x, y] = blobs(n, seed);
  return kind === 'cnn' ? [new Tensor(x.data, [n, 2, 3, 1]), y] : [x, y];
}

/** Everything that must match after a resume, as plain data (float bits compared exactly). */
export function fingerprint(model: Sequential) {
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  const opt = model.optimizer!.stateDict();
  const slots = (tree: unknown): unknown => (tree instanceof Tensor ? { shape: tree.shape, bits: bits(tree.data) }
    : typeof tree === 'object' && tree !== null ? Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, slots(v)])) : tree);
  return {
    weights: model.namedParams().map(([k, t]) => [k, bits(t.data)]),
    optimizer: slots(opt),
    rng: model.rng.getState(),
    history: JSON.stringify(model.history.stateDict()),
    epoch: model.currentEpoch,
  };
}
