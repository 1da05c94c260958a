/**
 * Learning-rate schedules, as Keras's `keras.optimizers.schedules`: a function of the
 * optimizer's step (its `iterations` before the update), given as an optimizer's
 * `learningRate`. They hold no state of their own: the step is the optimizer's.
 */
import { ArgumentError } from '../errors.js';

export type ScheduleConfig = Record<string, number | boolean | number[] | null>;

export abstract class LearningRateSchedule {
  abstract readonly className: string;
  /** The learning rate at `step`, rounded to float32 as Keras's float32 schedules give it. */
  abstract call(step: number): number;
  abstract getConfig(): ScheduleConfig;
}

function check(owner: string, name: string, value: number, rule: (v: number) => boolean, text: string): number {
  if (!(typeof value === 'number' && rule(value)))
    throw new ArgumentError(`${owner}: ${name} must be ${text}, got ${value}`);
  return value;
}
const positive = (owner: string, name: string, v: number) =>
  check(owner, name, v, (x) => Number.isFinite(x) && x > 0, 'a positive number');
const nonNegative = (owner: string, name: string, v: number) =>
  check(owner, name, v, (x) => Number.isFinite(x) && x >= 0, 'a non-negative number');

/** ExponentialDecay's and InverseTimeDecay's config. */
export interface DecayConfig {
  initialLearningRate: number;
  decaySteps: number;
  decayRate: number;
  staircase?: boolean;
}
export type ExponentialDecayConfig = DecayConfig;
export type InverseTimeDecayConfig = DecayConfig;

/** A rate decayed by `decayed(initial, rate, p)` with p = step / decaySteps, floored with `staircase`. */
abstract class StepDecay extends LearningRateSchedule {
  constructor(
    readonly config: DecayConfig,
    owner: string,
    decayRateRule: typeof positive,
  ) {
    super();
    nonNegative(owner, 'initialLearningRate', config.initialLearningRate);
    positive(owner, 'decaySteps', config.decaySteps);
    decayRateRule(owner, 'decayRate', config.decayRate);
  }
  protected abstract decayed(initial: number, rate: number, p: number): number;
  call(step: number): number {
    const { initialLearningRate, decaySteps, decayRate, staircase } = this.config;
    return Math.fround(
      this.decayed(initialLearningRate, decayRate, staircase ? Math.floor(step / decaySteps) : step / decaySteps),
    );
  }
  getConfig(): ScheduleConfig {
    return {
      initialLearningRate: this.config.initialLearningRate,
      decaySteps: this.config.decaySteps,
      decayRate: this.config.decayRate,
      staircase: this.config.staircase ?? false,
    };
  }
}

/** initialLearningRate · decayRate^(step / decaySteps), the exponent floored with `staircase`. */
export class ExponentialDecay extends StepDecay {
  readonly className = 'ExponentialDecay';
  constructor(config: ExponentialDecayConfig) {
    super(config, 'ExponentialDecay', positive);
  }
  protected decayed(initial: number, rate: number, p: number): number {
    return initial * rate ** p;
  }
}

/** initialLearningRate / (1 + decayRate · step / decaySteps), the ratio floored with `staircase`. */
export class InverseTimeDecay extends StepDecay {
  readonly className = 'InverseTimeDecay';
  constructor(config: InverseTimeDecayConfig) {
    super(config, 'InverseTimeDecay', nonNegative);
  }
  protected decayed(initial: number, rate: number, p: number): number {
    return initial / (1 + rate * p);
  }
}

export interface PiecewiseConstantDecayConfig {
  boundaries: number[];
  values: number[];
}

/** values[0] up to and including boundaries[0], values[i] in (boundaries[i-1], boundaries[i]], the last value after. */
export class PiecewiseConstantDecay extends LearningRateSchedule {
  readonly className = 'PiecewiseConstantDecay';
  constructor(readonly config: PiecewiseConstantDecayConfig) {
    super();
    const { boundaries, values } = config;
    if (!Array.isArray(boundaries) || !Array.isArray(values) || values.length !== boundaries.length + 1) {
      throw new ArgumentError(
        `PiecewiseConstantDecay: values must have one more element than boundaries, got ${values?.length} values for ${boundaries?.length} boundaries`,
      );
    }
    if (boundaries.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= boundaries[i - 1]))) {
      throw new ArgumentError(
        `PiecewiseConstantDecay: boundaries must be increasing numbers, got [${boundaries.join(', ')}]`,
      );
    }
    values.forEach((v, i) => nonNegative('PiecewiseConstantDecay', `values[${i}]`, v));
  }
  call(step: number): number {
    const { boundaries, values } = this.config;
    const i = boundaries.findIndex((b) => step <= b);
    return Math.fround(values[i === -1 ? values.length - 1 : i]);
  }
  getConfig(): ScheduleConfig {
    return { boundaries: [...this.config.boundaries], values: [...this.config.values] };
  }
}

export interface CosineDecayConfig {
  initialLearningRate: number;
  decaySteps: number;
  /** The floor, as a fraction of the rate decayed from (default 0). */
  alpha?: number;
  /** With warmupSteps: rise linearly from initialLearningRate to this, then decay from it. */
  warmupTarget?: number | null;
  warmupSteps?: number;
}

/** Cosine decay (SGDR without restarts), after an optional linear warm-up, as Keras's CosineDecay. */
export class CosineDecay extends LearningRateSchedule {
  readonly className = 'CosineDecay';
  constructor(readonly config: CosineDecayConfig) {
    super();
    nonNegative('CosineDecay', 'initialLearningRate', config.initialLearningRate);
    positive('CosineDecay', 'decaySteps', config.decaySteps);
    check('CosineDecay', 'alpha', config.alpha ?? 0, (a) => a >= 0 && a <= 1, 'in [0, 1]');
    if (config.warmupTarget !== undefined && config.warmupTarget !== null)
      nonNegative('CosineDecay', 'warmupTarget', config.warmupTarget);
    nonNegative('CosineDecay', 'warmupSteps', config.warmupSteps ?? 0);
  }
  call(step: number): number {
    const { initialLearningRate, decaySteps } = this.config;
    const alpha = this.config.alpha ?? 0,
      warmupSteps = this.config.warmupSteps ?? 0,
      target = this.config.warmupTarget ?? null;
    const decay = (s: number, from: number) =>
      from * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * (s / decaySteps))) + alpha);
    if (target === null) return Math.fround(decay(Math.min(step, decaySteps), initialLearningRate));
    const s = Math.min(step, decaySteps + warmupSteps);
    if (s < warmupSteps) return Math.fround(initialLearningRate + (s / warmupSteps) * (target - initialLearningRate));
    return Math.fround(decay(s - warmupSteps, target));
  }
  getConfig(): ScheduleConfig {
    const c = this.config;
    return {
      initialLearningRate: c.initialLearningRate,
      decaySteps: c.decaySteps,
      alpha: c.alpha ?? 0,
      warmupTarget: c.warmupTarget ?? null,
      warmupSteps: c.warmupSteps ?? 0,
    };
  }
}

const SCHEDULES: Record<string, (config: never) => LearningRateSchedule> = {
  ExponentialDecay: (c: ExponentialDecayConfig) => new ExponentialDecay(c),
  InverseTimeDecay: (c: InverseTimeDecayConfig) => new InverseTimeDecay(c),
  PiecewiseConstantDecay: (c: PiecewiseConstantDecayConfig) => new PiecewiseConstantDecay(c),
  CosineDecay: (c: CosineDecayConfig) => new CosineDecay(c),
};

/** A schedule rebuilt from `{ className, config }` (what an optimizer's config records). */
export function scheduleFromConfig(spec: { className: string; config: ScheduleConfig }): LearningRateSchedule {
  const make = SCHEDULES[spec.className];
  if (make === undefined)
    throw new ArgumentError(
      `unknown learning-rate schedule '${spec.className}' (known: ${Object.keys(SCHEDULES).join(', ')})`,
    );
  return make(spec.config as never);
}
