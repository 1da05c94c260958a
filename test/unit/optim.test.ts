/**
 * Optimizers (src/optim): update rules against hand-computed values, state keyed by parameter
 * path, a fresh optimizer restored from a checkpoint, and bad settings of optimizers, schedules
 * and learning-rate callbacks refused at construction, by name and rule.
 */
import { describe, it, expect } from 'vitest';
import {
  Adam,
  SGD,
  Tensor,
  tensor,
  CheckpointError,
  ArgumentError,
  CosineDecay,
  ExponentialDecay,
  InverseTimeDecay,
  LearningRateScheduler,
  PiecewiseConstantDecay,
  ReduceLROnPlateau,
  RMSprop,
} from '../../src/node/index.js';
const param = (values: number[], grad: number[]) => {
  const p = tensor(values, undefined, true);
  p.grad = tensor(grad);
  return p;
};

describe('SGD', () => {
  it('plain: p ← p − ηg', () => {
    const p = param([1, 2], [0.5, -1]);
    new SGD({ learningRate: 0.1 }).applyGradients([['w', p]]);
    expect(p.data[0]).toBeCloseTo(0.95, 6);
    expect(p.data[1]).toBeCloseTo(2.1, 6);
  });

  it('momentum: v ← μv − ηg, p ← p + v, over two steps', () => {
    const p = param([1], [1]);
    const opt = new SGD({ learningRate: 0.1, momentum: 0.9 });
    opt.applyGradients([['w', p]]); // v = −0.1, p = 0.9
    p.grad = tensor([2]);
    opt.applyGradients([['w', p]]); // v = −0.09 − 0.2 = −0.29, p = 0.61
    expect(p.data[0]).toBeCloseTo(0.61, 6);
  });

  it('nesterov: p ← p + μv − ηg', () => {
    const p = param([1], [1]);
    const opt = new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true });
    opt.applyGradients([['w', p]]); // v = −0.1, p = 1 + (−0.09 − 0.1) = 0.81
    expect(p.data[0]).toBeCloseTo(0.81, 6);
  });
});

describe('Adam', () => {
  it('matches hand-computed Keras-style updates for three steps', () => {
    const lr = 0.01,
      b1 = 0.9,
      b2 = 0.999,
      eps = 1e-7;
    const grads = [0.3, -1.2, 0.05];
    const p = param([0.5], [grads[0]]);
    const opt = new Adam({ learningRate: lr, beta1: b1, beta2: b2, epsilon: eps });
    let m = 0,
      v = 0,
      w = 0.5;
    grads.forEach((g, i) => {
      const t = i + 1;
      p.grad = tensor([g]);
      opt.applyGradients([['w', p]]);
      m += (g - m) * (1 - b1);
      v += (g * g - v) * (1 - b2);
      w -= (((lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t)) * m) / (Math.sqrt(v) + eps);
      expect(p.data[0]).toBeCloseTo(w, 6);
    });
    expect(opt.iterations).toBe(3);
  });

  it('keys its state by parameter path and restores into a fresh optimizer', () => {
    const mk = () =>
      [
        ['layers/0/kernel', param([1, 2, 3], [0.1, 0.2, 0.3])],
        ['layers/1/bias', param([4], [-1])],
      ] as Array<[string, Tensor]>;
    const a = mk();
    const opt = new Adam();
    opt.applyGradients(a);
    const state = opt.stateDict();
    expect(Object.keys(state).sort()).toEqual(['className', 'config', 'iterations', 'learningRate', 'm', 'v']);
    expect(((state.m as Record<string, any>).layers['0'].kernel as Tensor).shape).toEqual([3]);

    // Restore, then both take the same next step: identical results.
    const b = mk();
    b.forEach(([, t], i) => t.data.set(a[i][1].data));
    const restored = new Adam();
    restored.build(b);
    restored.loadStateDict(state);
    opt.applyGradients(a);
    restored.applyGradients(b);
    b.forEach(([, t], i) => expect(t.data).toEqual(a[i][1].data));
    expect(restored.iterations).toBe(2);
  });

  it('refuses state from another optimizer or other hyperparameters, saying what differs', () => {
    const p: Array<[string, Tensor]> = [['w', param([1], [1])]];
    const adam = new Adam({ learningRate: 0.01 });
    adam.applyGradients(p);
    const other = new Adam({ learningRate: 0.001 });
    other.build(p);
    expect(() => other.loadStateDict(adam.stateDict())).toThrow(/learningRate: saved 0.01, this is 0.001/);
    const sgd = new SGD({ momentum: 0.9 });
    sgd.build(p);
    expect(() => sgd.loadStateDict(adam.stateDict())).toThrow(CheckpointError);
    expect(() => sgd.loadStateDict(adam.stateDict())).toThrow(/type: saved Adam, this is SGD/);
  });

  it("stores each slot with its parameter's shape, reads flattened slots of older files, refuses another shape", async () => {
    const kernel = () => {
      const p = new Tensor(new Float32Array(72).fill(0.5), [3, 3, 1, 8], true);
      p.grad = new Tensor(new Float32Array(72).fill(0.1), [3, 3, 1, 8]);
      return p;
    };
    const trained = new Adam();
    trained.applyGradients([['layers/0/kernel', kernel()]]);
    const state = trained.stateDict() as Record<string, any>;
    const m = state.m.layers['0'].kernel as Tensor;
    expect(m.shape).toEqual([3, 3, 1, 8]);

    const fresh = () => {
      const o = new Adam();
      o.build([['layers/0/kernel', kernel()]]);
      return o;
    };
    const older = {
      ...state,
      m: { layers: { 0: { kernel: new Tensor(m.data.slice(), [72]) } } },
      v: { layers: { 0: { kernel: state.v.layers['0'].kernel.data.slice() } } },
    };
    const fromOlder = fresh();
    fromOlder.loadStateDict(older);
    expect((fromOlder.stateDict() as Record<string, any>).m.layers['0'].kernel.data).toEqual(m.data);

    const reshaped = { ...state, m: { layers: { 0: { kernel: new Tensor(m.data.slice(), [8, 9]) } } } };
    expect(() => fresh().loadStateDict(reshaped)).toThrow(
      /slot 'm' for layers\/0\/kernel: shape \[3, 3, 1, 8\] expected, \[8, 9\] saved/,
    );
  });

  it('validates hyperparameters', () => {
    expect(() => new Adam({ learningRate: 0 })).toThrow(/learningRate must be in \(0/);
    expect(() => new SGD({ momentum: 1.5 })).toThrow(/momentum must be in \[0, 1\]/);
  });
});

describe('a fresh optimizer restored from a checkpoint', () => {
  it('builds its slots from the file and continues bit-identical to the optimizer that was saved, for every optimizer', async () => {
    const { Adagrad, AdamW, RMSprop, Checkpoint, MemoryStorage } = await import('../../src/node/index.js');
    const makers = [
      () => new SGD({ learningRate: 0.1, momentum: 0.9 }),
      () => new Adam({ learningRate: 0.01 }),
      () => new AdamW({ learningRate: 0.01 }),
      () => new RMSprop({ learningRate: 0.01, momentum: 0.5 }),
      () => new Adagrad({ learningRate: 0.1 }),
    ];
    for (const make of makers) {
      const params = (): Array<[string, Tensor]> => [
        [
          'w',
          tensor([
            [0.5, -1],
            [2, 0.25],
          ]),
        ],
        ['b', tensor([0.1, -0.2])],
      ];
      const steps = (p: Array<[string, Tensor]>, opt: ReturnType<typeof make>, from: number, to: number) => {
        for (let i = from; i < to; i++) {
          for (const [, t] of p)
            t.grad = new Tensor(
              t.data.map((v, j) => Math.sin(v + i + j)),
              t.shape,
            );
          opt.applyGradients(p);
        }
      };
      const storage = new MemoryStorage();
      const straight = params(),
        trained = params();
      const a = make(),
        b = make();
      steps(straight, a, 0, 6);
      steps(trained, b, 0, 3);
      await new Checkpoint({ w: trained[0][1], b: trained[1][1], opt: b }).write('/c.wpt', { storage });
      const fresh = params(),
        c = make(); // never stepped: no slots yet
      await new Checkpoint({ w: fresh[0][1], b: fresh[1][1], opt: c }).read('/c.wpt', { storage });
      steps(fresh, c, 3, 6);
      for (let i = 0; i < 2; i++)
        expect(Array.from(fresh[i][1].data), c.constructor.name).toEqual(Array.from(straight[i][1].data));
    }
  });
});

describe('validation', () => {
  it('optimizers: one clipping option at most, positive rates, a schedule is not settable, a plain rate is float32', () => {
    expect(() => new Adam({ clipnorm: 1, clipvalue: 1 })).toThrow(
      /Adam: give at most one of clipnorm, clipvalue and globalClipnorm, got clipnorm and clipvalue/,
    );
    expect(() => new SGD({ learningRate: 0 })).toThrow(/SGD: learningRate must be in \(0, Infinity\), got 0/);
    expect(() => new RMSprop({ rho: 1.5 })).toThrow(/RMSprop: rho must be in \[0, 1\], got 1.5/);
    expect(() => new Adam({ weightDecay: -1 })).toThrow(ArgumentError);
    const scheduled = new Adam({
      learningRate: new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 }),
    });
    expect(() => {
      scheduled.learningRate = 0.01;
    }).toThrow(/follows a ExponentialDecay schedule and cannot be set/);
    const plain = new SGD({ learningRate: 0.1 });
    plain.learningRate = 0.3;
    expect(plain.learningRate).toBe(Math.fround(0.3));
  });

  it('schedules name the field and its rule', () => {
    expect(() => new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 0, decayRate: 0.5 })).toThrow(
      /ExponentialDecay: decaySteps must be a positive number, got 0/,
    );
    expect(() => new InverseTimeDecay({ initialLearningRate: -1, decaySteps: 1, decayRate: 0.5 })).toThrow(
      /InverseTimeDecay: initialLearningRate must be a non-negative number, got -1/,
    );
    expect(() => new PiecewiseConstantDecay({ boundaries: [5, 2], values: [1, 2, 3] })).toThrow(
      /boundaries must be increasing/,
    );
    expect(() => new PiecewiseConstantDecay({ boundaries: [5], values: [1] })).toThrow(
      /one more element than boundaries, got 1 values for 1 boundaries/,
    );
    expect(() => new CosineDecay({ initialLearningRate: 0.1, decaySteps: 10, alpha: 2 })).toThrow(
      /CosineDecay: alpha must be in \[0, 1\], got 2/,
    );
  });

  it('the learning-rate callbacks', () => {
    expect(() => new ReduceLROnPlateau({ factor: 1 })).toThrow(/factor must be in \(0, 1\)/);
    expect(() => new ReduceLROnPlateau({ monitor: 'fid' })).toThrow(
      /cannot tell whether 'fid' should be minimized or maximized/,
    );
    expect(() => new ReduceLROnPlateau({ patience: 1.5 })).toThrow(
      /patience must be a non-negative integer of epochs, got 1.5/,
    );
    expect(() => new LearningRateScheduler(3 as never)).toThrow(/schedule must be a function/);
  });
});
