/** Bad settings of the optimizers, schedules and learning-rate callbacks are refused at construction, by name and rule. */
import { describe, it, expect } from 'vitest';
import {
  Adam, ArgumentError, CosineDecay, ExponentialDecay, InverseTimeDecay, LearningRateScheduler, PiecewiseConstantDecay, ReduceLROnPlateau, RMSprop, SGD,
} from '../../src/node/index.js';

describe('validation', () => {
  it('optimizers: one clipping option at most, positive rates, a schedule is not settable, a plain rate is float32', () => {
    expect(() => new Adam({ clipnorm: 1, clipvalue: 1 })).toThrow(/Adam: give at most one of clipnorm, clipvalue and globalClipnorm, got clipnorm and clipvalue/);
    expect(() => new SGD({ learningRate: 0 })).toThrow(/SGD: learningRate must be in \(0, Infinity\), got 0/);
    expect(() => new RMSprop({ rho: 1.5 })).toThrow(/RMSprop: rho must be in \[0, 1\], got 1.5/);
    expect(() => new Adam({ weightDecay: -1 })).toThrow(ArgumentError);
    const scheduled = new Adam({ learningRate: new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 }) });
    expect(() => { scheduled.learningRate = 0.01; }).toThrow(/follows a ExponentialDecay schedule and cannot be set/);
    const plain = new SGD({ learningRate: 0.1 });
    plain.learningRate = 0.3;
    expect(plain.learningRate).toBe(Math.fround(0.3));
  });

  it('schedules name the field and its rule', () => {
    expect(() => new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 0, decayRate: 0.5 })).toThrow(/ExponentialDecay: decaySteps must be a positive number, got 0/);
    expect(() => new InverseTimeDecay({ initialLearningRate: -1, decaySteps: 1, decayRate: 0.5 })).toThrow(/InverseTimeDecay: initialLearningRate must be a non-negative number, got -1/);
    expect(() => new PiecewiseConstantDecay({ boundaries: [5, 2], values: [1, 2, 3] })).toThrow(/boundaries must be increasing/);
    expect(() => new PiecewiseConstantDecay({ boundaries: [5], values: [1] })).toThrow(/one more element than boundaries, got 1 values for 1 boundaries/);
    expect(() => new CosineDecay({ initialLearningRate: 0.1, decaySteps: 10, alpha: 2 })).toThrow(/CosineDecay: alpha must be in \[0, 1\], got 2/);
  });

  it('the learning-rate callbacks', () => {
    expect(() => new ReduceLROnPlateau({ factor: 1 })).toThrow(/factor must be in \(0, 1\)/);
    expect(() => new ReduceLROnPlateau({ monitor: 'fid' })).toThrow(/cannot tell whether 'fid' should be minimized or maximized/);
    expect(() => new ReduceLROnPlateau({ patience: 1.5 })).toThrow(/patience must be a non-negative integer of epochs, got 1.5/);
    expect(() => new LearningRateScheduler(3 as never)).toThrow(/schedule must be a function/);
  });
});
