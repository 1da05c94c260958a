import { describe, it, expect, afterEach } from 'vitest';
import {
  allocate,
  allocateInt32,
  bufferStats,
  keepBuffer,
  setBufferPooling,
  withBufferScope,
} from '../../kernels/buffers.js';
import {
  AdamW,
  AveragePooling2D,
  BatchNormalization,
  Conv2D,
  CosineDecay,
  Dense,
  Embedding,
  GRU,
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  LSTM,
  Layer,
  LayerNormalization,
  MaxPool2D,
  RMSprop,
  Random,
  Sequential,
  Tensor,
  keep,
  loadMnist,
  oneHot,
  type CallContext,
  type Optimizer,
  type SampleShape,
} from '../../src/node/index.js';
import { dataFor, fingerprint, makeModel, type Kind } from '../../harness/training.js';
import { mnistModel } from '../../src/cli/models.js';

afterEach(() => setBufferPooling(true));

describe('the buffer pool', () => {
  it('hands the buffers of one scope to the next, by kind and length, and never outside a scope', () => {
    const first = withBufferScope(() => [allocate(100), allocate(100), allocateInt32(100), allocate(7)]);
    const second = withBufferScope(() => [allocate(100), allocate(100), allocateInt32(100), allocate(8)]);
    expect(new Set(second.slice(0, 2))).toEqual(new Set(first.slice(0, 2)));
    expect(second[2]).toBe(first[2]);
    expect(second[2]).toBeInstanceOf(Int32Array);
    expect(second[3]).not.toBe(first[3]);
    expect(allocate(100)).not.toBe(second[0]);
    // The 7 went unused for a whole step: dropped, so the pool stays one step's size.
    withBufferScope(() => undefined);
    expect(withBufferScope(() => allocate(7))).not.toBe(first[3]);
  });

  it('never hands out a kept buffer again, and joins an inner scope to the outer', () => {
    const kept = withBufferScope(() => {
      const a = allocate(64);
      keepBuffer(a);
      const inner = withBufferScope(() => allocate(64));
      return [a, inner];
    });
    const next = withBufferScope(() => [allocate(64), allocate(64)]);
    expect(next).not.toContain(kept[0]);
    expect(next).toContain(kept[1]);
  });

  it('pools nothing when turned off', () => {
    setBufferPooling(false);
    const a = withBufferScope(() => allocate(32)),
      b = withBufferScope(() => allocate(32));
    expect(a).not.toBe(b);
  });
});

describe('training with recycled buffers', () => {
  const train = async (kind: Kind, pooled: boolean) => {
    setBufferPooling(pooled);
    const model = makeModel(kind, 3);
    const [x, y] = dataFor(kind, 50, 2);
    await model.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0, validationData: [x, y] });
    const evaluated = await model.evaluate(x, y, { batchSize: 16 });
    return { ...fingerprint(model), evaluated, predicted: Array.from(model.predict(x).data) };
  };

  // Every kind of the resume tests: dense, dropout, SGD with Nesterov, a conv, BatchNormalization + LSTM + AdamW on a schedule, a plateau.
  for (const kind of ['mlp', 'dropout', 'sgd', 'cnn', 'sequence', 'plateau'] as const) {
    it(`${kind}: the same bits as with every buffer fresh (weights, slots, history, evaluate, predict)`, async () => {
      expect(await train(kind, true)).toEqual(await train(kind, false));
    });
  }

  const wide: Array<[string, () => Sequential, () => Optimizer, Tensor]> = [
    [
      'Embedding → LSTM → LayerNormalization → GRU → Dense, AdamW on CosineDecay',
      () =>
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
      () => new AdamW({ learningRate: new CosineDecay({ initialLearningRate: 0.01, decaySteps: 10 }) }),
      new Tensor(
        Float32Array.from({ length: 24 * 5 }, (_, i) => (i * 7) % 9),
        [24, 5],
      ),
    ],
    [
      'Conv2D (dilated) → BatchNormalization → AveragePooling2D → Conv2D (strided) → GlobalMaxPooling2D → Dense, RMSprop with clipnorm',
      () =>
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
      () => new RMSprop({ learningRate: 0.01, momentum: 0.5, centered: true, clipnorm: 1 }),
      new Tensor(new Random(5).fillUniform(new Float32Array(24 * 72), -1, 1), [24, 6, 6, 2]),
    ],
    [
      'Conv2D 8 (direct, same padding) → MaxPool2D → Conv2D 4 → GlobalAveragePooling2D → Dense, Adam',
      () =>
        new Sequential(
          [
            new Conv2D({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [7, 7, 3] }),
            new MaxPool2D({ poolSize: 2 }),
            new Conv2D({ filters: 4, kernelSize: 2, activation: 'relu' }),
            new GlobalAveragePooling2D(),
            new Dense({ units: 3, activation: 'softmax' }),
          ],
          { seed: 4 },
        ),
      () => new AdamW({ learningRate: 0.01, weightDecay: 0 }),
      new Tensor(new Random(6).fillUniform(new Float32Array(24 * 147), -1, 1), [24, 7, 7, 3]),
    ],
    [
      'Embedding → LSTM (sequences) → LayerNormalization → GRU → Dense, widths in fours (the SIMD kernels), Adam',
      () =>
        new Sequential(
          [
            new Embedding({ inputDim: 9, outputDim: 8, inputShape: [5] }),
            new LSTM({ units: 8, returnSequences: true }),
            new LayerNormalization(),
            new GRU({ units: 4 }),
            new Dense({ units: 3, activation: 'softmax' }),
          ],
          { seed: 5 },
        ),
      () => new AdamW({ learningRate: 0.01, weightDecay: 0 }),
      new Tensor(
        Float32Array.from({ length: 24 * 5 }, (_, i) => (i * 5) % 9),
        [24, 5],
      ),
    ],
    [
      'Conv2D 8 (dilated, direct by phases) → BatchNormalization → GlobalAveragePooling2D → Dense tanh → Dense, Adam',
      () =>
        new Sequential(
          [
            new Conv2D({ filters: 8, kernelSize: 3, dilationRate: 2, padding: 'same', inputShape: [7, 7, 3] }),
            new BatchNormalization(),
            new GlobalAveragePooling2D(),
            new Dense({ units: 4, activation: 'tanh' }),
            new Dense({ units: 3, activation: 'softmax' }),
          ],
          { seed: 6 },
        ),
      () => new AdamW({ learningRate: 0.01, weightDecay: 0 }),
      new Tensor(new Random(7).fillUniform(new Float32Array(24 * 147), -1, 1), [24, 7, 7, 3]),
    ],
  ];
  for (const [name, make, optimizer, x] of wide) {
    it(`${name}: allocates nothing fresh after its first step`, async () => {
      const model = make();
      model.compile({ optimizer: optimizer(), loss: 'categoricalCrossentropy' });
      let afterFirst = -1;
      await model.fit(
        x,
        oneHot(
          Array.from({ length: 24 }, (_, i) => i % 3),
          3,
        ),
        {
          epochs: 2,
          batchSize: 8,
          verbose: 0,
          callbacks: [{ onBatchEnd: async () => void (afterFirst < 0 && (afterFirst = bufferStats().fresh)) }],
        },
      );
      expect(bufferStats().fresh, 'buffers allocated fresh after the first step').toBe(afterFirst);
    });

    it(`${name}: the same bits pooled or not`, async () => {
      const y = oneHot(
        Array.from({ length: 24 }, (_, i) => i % 3),
        3,
      );
      const run = async (pooled: boolean) => {
        setBufferPooling(pooled);
        const model = make();
        model.compile({ optimizer: optimizer(), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
        await model.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, validationData: [x, y] });
        return {
          weights: model.getWeights().map((w) => Array.from(new Uint32Array(w.data.buffer, w.data.byteOffset, w.size))),
          history: JSON.stringify(model.history.stateDict()),
        };
      };
      expect(await run(true)).toEqual(await run(false));
    });
  }

  it('the MNIST CNN (direct convolutions, pooling, bias + relu): the same bits pooled or not', async () => {
    const { xTrain, yTrain } = await loadMnist({ shape: 'image' });
    const order = new Random(4).permutation(xTrain.shape[0]).subarray(0, 96);
    const rows = (from: Tensor, width: number) => {
      const out = new Float32Array(order.length * width);
      order.forEach((i, k) => out.set(from.data.subarray(i * width, (i + 1) * width), k * width));
      return out;
    };
    const x = new Tensor(rows(xTrain, 784), [96, 28, 28, 1]),
      y = new Tensor(rows(yTrain, 10), [96, 10]);
    const run = async (pooled: boolean) => {
      setBufferPooling(pooled);
      const model = mnistModel('cnn', 5);
      await model.fit(x, y, { epochs: 2, batchSize: 32, verbose: 0 });
      return model.getWeights().map((w) => Array.from(new Uint32Array(w.data.buffer, w.data.byteOffset, w.size)));
    };
    expect(await run(true)).toEqual(await run(false));
  });

  it('allocates nothing fresh per batch in steady state: after the first step every buffer comes from the pool', async () => {
    for (const kind of ['mlp', 'cnn'] as const) {
      const shape = kind === 'mlp' ? [784] : [28, 28, 1];
      const x = new Tensor(new Random(1).fillUniform(new Float32Array(64 * shape.reduce((a, b) => a * b)), 0, 1), [
        64,
        ...shape,
      ]);
      const y = new Tensor(
        Float32Array.from({ length: 640 }, (_, i) => (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0)),
        [64, 10],
      );
      const model = mnistModel(kind, 1);
      let afterFirst = -1,
        atEnd = -1;
      await model.fit(x, y, {
        epochs: 2,
        batchSize: 32,
        verbose: 0,
        callbacks: [
          {
            onBatchEnd: async (batch: number) => {
              if (batch === 0 && afterFirst < 0) afterFirst = bufferStats().fresh;
            },
            onTrainEnd: async () => {
              atEnd = bufferStats().fresh;
            },
          },
        ],
      });
      expect(atEnd, `${kind}: buffers allocated fresh after the first step`).toBe(afterFirst);
    }
  });

  it('a custom layer that keeps its activations past their step finds them intact at the end of training', async () => {
    class Remember extends Layer {
      readonly className = 'Remember';
      readonly kept: Array<[Tensor, Float32Array]> = [];
      outputShape(s: SampleShape): SampleShape {
        return s;
      }
      getConfig() {
        return {};
      }
      call(x: Tensor, _ctx: CallContext): Tensor {
        const y = x.mul(2);
        this.kept.push([keep(y), y.data.slice()]);
        return y;
      }
    }
    const remember = new Remember({});
    const model = new Sequential(
      [new Dense({ units: 4, inputShape: [6] }), remember, new Dense({ units: 3, activation: 'softmax' })],
      { seed: 1 },
    );
    model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
    const [x, y] = dataFor('mlp', 64, 1);
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
    expect(remember.kept.length).toBe(16);
    expect(remember.kept.filter(([t, copy]) => !t.data.every((v, i) => Object.is(v, copy[i]))).length).toBe(0);
  });
});
