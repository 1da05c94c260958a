/**
 * Matmuls and direct convolutions split over threads (src/backend/threads.ts,
 * conv-threads.ts) give the single-threaded bits, for every shape, transpose and batch, and
 * so does training; the thread count is configurable and reported by getBackend().
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import {
  Conv2D,
  Dense,
  GlobalAveragePooling2D,
  Random,
  Sequential,
  SGD,
  Tensor,
  configureThreads,
  getBackend,
  oneHot,
  startThreads,
} from '../../src/node/index.js';
import { parallelConvFilterGrad, parallelConvForward, parallelConvInputGrad } from '../../src/backend/conv-threads.js';
import { matmul } from '../../kernels/cpu/matmul.js';
import { MIN_CONV_MULTIPLY_ADDS, MIN_MULTIPLY_ADDS, MIN_ROWS, parallelMatmul } from '../../src/backend/threads.js';
import { ArgumentError } from '../../src/errors.js';

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** Two threads for the tests of the calling describe, the configuration before restored after. */
function onTwoThreads(): void {
  let before = 1;
  beforeAll(async () => {
    before = configureThreads({ threads: 2 });
    expect(await startThreads()).toBe(2);
  }, 60_000);
  afterAll(() => {
    configureThreads({ threads: before });
  });
}

describe('matmul on several threads', () => {
  onTwoThreads();

  it('gives the same bits as one thread, whatever the shape, transposes and split', () => {
    const rng = new Random(3);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 130 }),
        fc.boolean(),
        fc.boolean(),
        (m, k, n, transA, transB) => {
          const a = rng.fillNormal(new Float32Array(m * k), 0, 1),
            b = rng.fillNormal(new Float32Array(k * n), 0, 1);
          const forced = parallelMatmul(a, b, m, k, n, transA, transB, new Float32Array(m * n), {
            minMultiplyAdds: 0,
            minRows: 0,
          });
          expect(bits(forced)).toEqual(bits(matmul(a, b, m, k, n, transA, transB)));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('trains to the same bits with 1 and 2 threads (a layer large enough to be split)', async () => {
    const train = async (threads: number) => {
      configureThreads({ threads });
      await startThreads();
      const rng = new Random(5);
      const x = new Tensor(rng.fillNormal(new Float32Array(1024 * 1024), 0, 1), [1024, 1024]);
      const y = oneHot(
        Array.from({ length: 1024 }, (_, i) => i % 64),
        64,
      );
      const model = new Sequential([new Dense({ units: 64, activation: 'softmax', inputShape: [1024] })], { seed: 2 });
      model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'categoricalCrossentropy' });
      await model.fit(x, y, { epochs: 2, batchSize: 512, verbose: 0 });
      return model.getWeights().map((w) => bits(w.data));
    };
    expect(512 * 1024 * 64).toBeGreaterThanOrEqual(MIN_MULTIPLY_ADDS); // the forward matmul is split...
    expect(512).toBeGreaterThanOrEqual(MIN_ROWS);
    const two = await train(2);
    expect(getBackend().threads).toBe(2); // ...on two threads
    expect(two).toEqual(await train(1));
  }, 120_000);

  it('is configured by configureThreads and reported by getBackend', async () => {
    configureThreads({ threads: 1 });
    expect(getBackend().threads).toBe(1);
    expect(getBackend().detail).toMatch(/on 1 thread\b/);
    configureThreads({ threads: 2 });
    await startThreads();
    expect(getBackend()).toMatchObject({ name: 'cpu', threads: 2 });
    expect(getBackend().detail).toMatch(
      /on 2 threads \(matmuls of 16M\+ multiply-adds and 256\+ rows, direct convolutions of 32M\+\)/,
    );
    for (const bad of [0, 1.5, -1, NaN]) expect(() => configureThreads({ threads: bad })).toThrow(ArgumentError);
    expect(() => configureThreads({ threads: 0 })).toThrow(/threads must be a whole number >= 1, got 0/);
  });
});

describe('direct convolutions on several threads', () => {
  onTwoThreads();

  it('give the same bits as one thread for every batch split: forward (bias, relu), input and filter gradients', () => {
    const rng = new Random(8);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 3, max: 9 }),
        fc.constantFrom(1, 4, 8),
        fc.constantFrom(4, 8, 16, 32),
        fc.boolean(),
        fc.boolean(),
        (batch, h, c, outC, same, relu) => {
          const pad = same ? 1 : 0,
            outH = h + 2 * pad - 2;
          const w = {
            batch,
            inH: h,
            inW: h,
            channels: c,
            kH: 3,
            kW: 3,
            strideH: 1,
            strideW: 1,
            padTop: pad,
            padLeft: pad,
            outH,
            outW: outH,
            outC,
          };
          const x = rng.fillUniform(new Float32Array(batch * h * h * c), -1, 1),
            f = rng.fillUniform(new Float32Array(9 * c * outC), -1, 1);
          const bias = rng.fillUniform(new Float32Array(outC), -1, 1),
            dy = rng.fillUniform(new Float32Array(batch * outH * outH * outC), -1, 1);
          expect(bits(parallelConvForward(x, f, bias, relu, w, 0)!)).toEqual(
            bits(parallelConvForward(x, f, bias, relu, w, Infinity)!),
          );
          // Null where the filter gradient takes im2col (few input channels, many output channels): then on both.
          const [split, one] = [parallelConvFilterGrad(x, dy, w, 0), parallelConvFilterGrad(x, dy, w, Infinity)];
          expect(split === null ? null : bits(split)).toEqual(one === null ? null : bits(one));
          if (c % 4 === 0)
            expect(bits(parallelConvInputGrad(dy, f, w, 0)!)).toEqual(bits(parallelConvInputGrad(dy, f, w, Infinity)!));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('train to the same bits with 1 and 2 threads (a convolution large enough to be split)', async () => {
    const train = async (threads: number) => {
      configureThreads({ threads });
      await startThreads();
      const rng = new Random(6);
      const x = new Tensor(rng.fillUniform(new Float32Array(64 * 28 * 28 * 16), -1, 1), [64, 28, 28, 16]);
      const y = oneHot(
        Array.from({ length: 64 }, (_, i) => i % 3),
        3,
      );
      const model = new Sequential(
        [
          new Conv2D({ filters: 16, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 16] }),
          new GlobalAveragePooling2D(),
          new Dense({ units: 3, activation: 'softmax' }),
        ],
        { seed: 2 },
      );
      model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'categoricalCrossentropy' });
      await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 });
      return model.getWeights().map((w) => bits(w.data));
    };
    expect(32 * 26 * 26 * 9 * 16 * 16).toBeGreaterThanOrEqual(MIN_CONV_MULTIPLY_ADDS); // the convolution is split
    const two = await train(2);
    expect(getBackend().threads).toBe(2);
    expect(two).toEqual(await train(1));
  }, 120_000);
});
