/**
 * Every layer against Keras 3 (torch backend), from golden values made by
 * scripts/golden/keras_layers.py: forward in training and inference mode, gradients with
 * respect to the input and every weight, moving statistics, and two epochs of training.
 */
import { describe, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Dense, Flatten, Random, SGD, Sequential, Tensor, layerFromConfig, type Layer } from '../../src/node/index.js';
import { expectClose } from '../helpers/close.js';

interface Case {
  waypoint: { className: string; config: Record<string, unknown> };
  inputShape: number[];
  input: 'float' | 'int';
  flatten: boolean;
  call: { x: number[]; weights: number[][]; outputShape: number[]; training: number[]; inference: number[]; inputGrad: number[] | null;
    weightGrads: Array<number[] | null>; weightsAfterCall: number[][] };
  fit: { x: number[]; y: number[]; weights: number[][]; epochLosses: number[]; weightsAfter: number[][] };
}
const golden = JSON.parse(readFileSync(new URL('../golden/keras-layers.json', import.meta.url), 'utf8')) as { keras: string; backend: string; batch: number; layers: Record<string, Case> };

function layerOf(c: Case, weights: number[][]): Layer {
  const layer = layerFromConfig({ className: c.waypoint.className, config: { ...c.waypoint.config } });
  layer.build(c.inputShape, new Random(0));
  layer.setWeights(weights.map((w) => Float32Array.from(w)));
  return layer;
}

describe(`layers match Keras ${golden.keras} (${golden.backend} backend)`, () => {
  for (const [name, c] of Object.entries(golden.layers)) {
    it(`${name}: inference, training forward, gradients of input and weights, state after the call (1e-5)`, () => {
      const shape = [golden.batch, ...c.inputShape];
      const inference = layerOf(c, c.call.weights).call(new Tensor(Float32Array.from(c.call.x), shape), { training: false, rng: new Random(0) });
      expectClose(inference.data, c.call.inference, 1e-5, `${name} inference`);

      const layer = layerOf(c, c.call.weights);
      const x = new Tensor(Float32Array.from(c.call.x), shape, c.input === 'float');
      const out = layer.call(x, { training: true, rng: new Random(0) });
      expectClose(out.shape, c.call.outputShape, 0, `${name} output shape`);
      expectClose(out.data, c.call.training, 1e-5, `${name} training output`);
      out.backward(new Tensor(Float32Array.from({ length: out.size }, (_, i) => Math.cos(i * 0.13)), out.shape));
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
        layerFromConfig({ className: c.waypoint.className, config: { ...c.waypoint.config, inputShape: c.inputShape } }),
        ...(c.flatten ? [new Flatten()] : []), new Dense({ units: 2, activation: 'softmax' }),
      ]);
      model.setWeights(c.fit.weights.map((w) => Float32Array.from(w)));
      model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'categoricalCrossentropy' });
      const history = await model.fit(new Tensor(Float32Array.from(c.fit.x), [n, ...c.inputShape]), new Tensor(Float32Array.from(c.fit.y), [n, 2]),
        { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
      expectClose(history.history.loss, c.fit.epochLosses, 1e-4, `${name} epoch losses`);
      model.getWeights().forEach((w, i) => expectClose(w.data, c.fit.weightsAfter[i], 1e-4, `${name} weight ${i} after two epochs`));
    });
  }
});
