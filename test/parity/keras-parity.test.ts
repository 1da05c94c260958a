/**
 * Parity with Keras 3 (torch backend) for optimizers, schedules, clipping, weight decay and
 * the learning-rate callbacks, against golden values made by scripts/golden/keras_optimizers.py.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  Dense, LearningRateScheduler, ReduceLROnPlateau, SGD, Sequential, Tensor, optimizerFromConfig, scheduleFromConfig,
  type Optimizer, type OptimizerConfigJson, type ReduceLROnPlateauOptions,
} from '../../src/node/index.js';
import { expectClose } from '../helpers/close.js';

const golden = JSON.parse(readFileSync(new URL('../golden/keras-optimizers.json', import.meta.url), 'utf8'));
const x = new Tensor(Float32Array.from(golden.x), [24, 4]);
const y = new Tensor(Float32Array.from(golden.y), [24, 3]);

function model(optimizer: Optimizer): Sequential {
  const m = new Sequential([new Dense({ units: 5, activation: 'relu', inputShape: [4] }), new Dense({ units: 3, activation: 'softmax' })]);
  m.setWeights(golden.initialWeights.map((w: number[]) => Float32Array.from(w)));
  m.compile({ optimizer, loss: 'categoricalCrossentropy' });
  return m;
}

const weightsOf = (m: Sequential) => m.getWeights().flatMap((w) => Array.from(w.data));

type Case = { waypoint: { class: string; config?: OptimizerConfigJson; schedule?: OptimizerConfigJson[string] } };
const optimizerOf = (c: Case) => optimizerFromConfig({ className: c.waypoint.class, config: { ...c.waypoint.config, ...(c.waypoint.schedule ? { learningRate: c.waypoint.schedule } : {}) } })!;

describe(`optimizers match Keras ${golden.keras} (${golden.backend} backend)`, () => {
  for (const [name, c] of Object.entries(golden.optimizers) as Array<[string, Case & { afterOneBatch: number[][]; epochLosses: number[]; afterThreeEpochs: number[][] }]>) {
    it(`${name}: one batch (1e-5), three epochs' losses and weights (1e-4)`, async () => {
      const step = model(optimizerOf(c));
      await step.fit(new Tensor(x.data.slice(0, 32), [8, 4]), new Tensor(y.data.slice(0, 24), [8, 3]), { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
      expectClose(weightsOf(step), c.afterOneBatch.flat(), 1e-5, `${name} after one batch`);
      const run = model(optimizerOf(c));
      const history = await run.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
      expectClose(history.history.loss, c.epochLosses, 1e-4, `${name} epoch losses`);
      expectClose(weightsOf(run), c.afterThreeEpochs.flat(), 1e-4, `${name} after three epochs`);
    });
  }
});

describe('schedules match Keras at steps 0..12', () => {
  for (const [name, s] of Object.entries(golden.schedules) as Array<[string, { className: string; config: never; values: number[] }]>) {
    it(name, () => {
      const schedule = scheduleFromConfig({ className: s.className, config: s.config });
      expectClose(s.values.map((_, step) => schedule.call(step)), s.values, 1e-6, name);
    });
  }
});

describe('learning-rate callbacks match Keras, learning_rate logged as Keras logs it', () => {
  it('ReduceLROnPlateau: the same reductions at the same epochs, the same losses', async () => {
    const g = golden.reduceLROnPlateau;
    const m = model(new SGD({ learningRate: g.sgd }));
    const history = await m.fit(x, y, { epochs: g.epochs, batchSize: 8, shuffle: false, verbose: 0, callbacks: [new ReduceLROnPlateau(g.options as ReduceLROnPlateauOptions)] });
    expect(new Set(g.learning_rate).size).toBeGreaterThan(2); // the reference reduced at least twice
    expectClose(history.history.learning_rate, g.learning_rate, 1e-7, 'learning_rate');
    expectClose(history.history.loss, g.loss, 1e-4, 'loss');
    expectClose(weightsOf(m), g.finalWeights.flat(), 1e-4, 'final weights');
  });

  it('LearningRateScheduler: schedule(epoch, rate) at each epoch begin', async () => {
    const g = golden.learningRateScheduler;
    const m = model(new SGD({ learningRate: g.sgd }));
    const history = await m.fit(x, y, { epochs: g.epochs, batchSize: 8, shuffle: false, verbose: 0,
      callbacks: [new LearningRateScheduler((epoch, lr) => (epoch % 2 === 1 ? lr * 0.7 : lr))] });
    expectClose(history.history.learning_rate, g.learning_rate, 1e-7, 'learning_rate');
    expectClose(history.history.loss, g.loss, 1e-4, 'loss');
    expectClose(weightsOf(m), g.finalWeights.flat(), 1e-4, 'final weights');
  });
});
