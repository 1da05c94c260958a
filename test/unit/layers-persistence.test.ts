/**
 * Every new layer, optimizer and schedule rebuilds from its config (loadModel), predicts the
 * same, and trains on exactly as before; a frozen BatchNormalization neither learns nor
 * moves its statistics and normalizes with them.
 */
import { describe, it, expect } from 'vitest';
import {
  Adagrad,
  AdamW,
  AveragePooling2D,
  BatchNormalization,
  Conv2D,
  CosineDecay,
  Dense,
  Embedding,
  ExponentialDecay,
  Flatten,
  GRU,
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  InverseTimeDecay,
  LSTM,
  LayerNormalization,
  MemoryStorage,
  PiecewiseConstantDecay,
  RMSprop,
  Random,
  Reshape,
  SGD,
  Sequential,
  Tensor,
  loadModel,
  oneHot,
  type Optimizer,
} from '../../src/node/index.js';

const rng = new Random(5);
const uniform = (n: number) => rng.fillUniform(new Float32Array(n), -1, 1);
const labels = (n: number) =>
  oneHot(
    Array.from({ length: n }, (_, i) => i % 3),
    3,
  );
const bits = (m: Sequential) =>
  m.getWeights().map((w) => Array.from(new Uint32Array(w.data.buffer, w.data.byteOffset, w.size)));

const models: Array<{ name: string; make: () => Sequential; optimizer: () => Optimizer; x: Tensor }> = [
  {
    name: 'Embedding → LSTM (sequences) → LayerNormalization → GRU → Dense, AdamW on CosineDecay',
    make: () =>
      new Sequential(
        [
          new Embedding({ inputDim: 9, outputDim: 4, inputShape: [5] }),
          new LSTM({ units: 3, returnSequences: true }),
          new LayerNormalization(),
          new GRU({ units: 3 }),
          new Dense({ units: 3, activation: 'softmax' }),
        ],
        { seed: 2 },
      ),
    optimizer: () =>
      new AdamW({
        learningRate: new CosineDecay({
          initialLearningRate: 0.01,
          decaySteps: 10,
          warmupTarget: 0.05,
          warmupSteps: 2,
        }),
      }),
    x: new Tensor(
      Float32Array.from({ length: 12 * 5 }, (_, i) => (i * 7) % 9),
      [12, 5],
    ),
  },
  {
    name: 'Conv2D (dilated) → BatchNormalization → AveragePooling2D → Conv2D (strided) → GlobalMaxPooling2D → Dense, RMSprop with clipnorm',
    make: () =>
      new Sequential(
        [
          new Conv2D({ filters: 3, kernelSize: 2, dilationRate: 2, padding: 'same', inputShape: [6, 6, 2] }),
          new BatchNormalization(),
          new AveragePooling2D({ poolSize: 2 }),
          new Conv2D({ filters: 4, kernelSize: 2, strides: 2, padding: 'same' }),
          new GlobalMaxPooling2D(),
          new Dense({ units: 3, activation: 'softmax' }),
        ],
        { seed: 3 },
      ),
    optimizer: () => new RMSprop({ learningRate: 0.01, momentum: 0.5, centered: true, clipnorm: 1 }),
    x: new Tensor(uniform(12 * 6 * 6 * 2), [12, 6, 6, 2]),
  },
  {
    name: 'Reshape → GlobalAveragePooling2D → Dense, Adagrad on PiecewiseConstantDecay',
    make: () =>
      new Sequential(
        [
          new Reshape({ targetShape: [2, 3, -1], inputShape: [12] }),
          new GlobalAveragePooling2D(),
          new Dense({ units: 3, activation: 'softmax' }),
        ],
        { seed: 4 },
      ),
    optimizer: () =>
      new Adagrad({
        learningRate: new PiecewiseConstantDecay({ boundaries: [2], values: [0.1, 0.01] }),
        globalClipnorm: 2,
      }),
    x: new Tensor(uniform(12 * 12), [12, 12]),
  },
  {
    name: 'Dense on sequences → Flatten → Dense, SGD on ExponentialDecay',
    make: () =>
      new Sequential(
        [
          new Dense({ units: 4, activation: 'tanh', inputShape: [3, 4] }),
          new Flatten(),
          new Dense({ units: 3, activation: 'softmax' }),
        ],
        { seed: 6 },
      ),
    optimizer: () =>
      new SGD({
        learningRate: new ExponentialDecay({
          initialLearningRate: 0.1,
          decaySteps: 3,
          decayRate: 0.5,
          staircase: true,
        }),
        momentum: 0.9,
        clipvalue: 0.5,
      }),
    x: new Tensor(uniform(12 * 12), [12, 3, 4]),
  },
  {
    name: 'Dense, SGD on InverseTimeDecay with weight decay',
    make: () => new Sequential([new Dense({ units: 3, activation: 'softmax', inputShape: [4] })], { seed: 7 }),
    optimizer: () =>
      new SGD({
        learningRate: new InverseTimeDecay({ initialLearningRate: 0.2, decaySteps: 2, decayRate: 0.5 }),
        weightDecay: 0.01,
      }),
    x: new Tensor(uniform(12 * 4), [12, 4]),
  },
];

describe('new layers, optimizers and schedules survive model.save / loadModel', () => {
  for (const m of models) {
    it(m.name, async () => {
      const storage = new MemoryStorage();
      const y = labels(m.x.shape[0]);
      const straight = m.make();
      straight.compile({ optimizer: m.optimizer(), loss: 'categoricalCrossentropy' });
      await straight.fit(m.x, y, { epochs: 4, batchSize: 4, shuffle: false, verbose: 0 });

      const first = m.make();
      first.compile({ optimizer: m.optimizer(), loss: 'categoricalCrossentropy' });
      await first.fit(m.x, y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
      await first.save('/m.wpt', { storage });
      const loaded = (await loadModel('/m.wpt', { storage })) as Sequential;
      expect(loaded.getConfig()).toEqual(first.getConfig());
      expect(loaded.optimizer!.getConfig()).toEqual(first.optimizer!.getConfig());
      expect(loaded.optimizer!.learningRate).toBe(first.optimizer!.learningRate);
      expect(Array.from(loaded.predict(m.x).data)).toEqual(Array.from(first.predict(m.x).data));
      await loaded.fit(m.x, y, { epochs: 4, initialEpoch: 2, batchSize: 4, shuffle: false, verbose: 0 });
      expect(bits(loaded)).toEqual(bits(straight));
      expect(loaded.history.history.loss).toEqual(straight.history.history.loss);
    });
  }
});

describe('BatchNormalization with trainable: false', () => {
  it('keeps gamma, beta and the moving statistics, and normalizes with the moving statistics while training', async () => {
    const bn = new BatchNormalization({ trainable: false, inputShape: [4] });
    const model = new Sequential([bn, new Dense({ units: 3, activation: 'softmax' })], { seed: 1 });
    bn.setWeights([
      Float32Array.of(1, 2, 3, 4),
      Float32Array.of(0, 1, 0, 1),
      Float32Array.of(0.5, 0, 0, 0),
      Float32Array.of(2, 1, 1, 1),
    ]);
    const before = bn.getWeights().map((w) => Array.from(w.data));
    model.compile({ optimizer: new SGD({ learningRate: 0.5 }), loss: 'categoricalCrossentropy' });
    const x = new Tensor(uniform(12 * 4), [12, 4]);
    await model.fit(x, labels(12), { epochs: 2, batchSize: 4, verbose: 0 });
    expect(bn.getWeights().map((w) => Array.from(w.data))).toEqual(before);
    expect(model.namedParams().map(([k]) => k)).toEqual(['layers/1/kernel', 'layers/1/bias']);
    const training = bn.call(x, { training: true, rng: new Random(0) });
    const inference = bn.call(x, { training: false, rng: new Random(0) });
    expect(Array.from(training.data)).toEqual(Array.from(inference.data));
    expect(inference.data[0]).toBeCloseTo(((x.data[0] - 0.5) / Math.sqrt(2 + 1e-3)) * 1 + 0, 5);
  });
});
