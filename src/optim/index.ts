import { ArgumentError } from '../errors.js';
import { Adam, AdamW } from './adam.js';
import { SGD } from './sgd.js';
import { RMSprop } from './rmsprop.js';
import { Adagrad } from './adagrad.js';
import { type Optimizer, type OptimizerConfigJson, learningRateFromConfig } from './optimizer.js';

export { Optimizer } from './optimizer.js';
export type { NamedParams, OptimizerConfig, OptimizerConfigJson } from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDConfig } from './sgd.js';
export { Adam, AdamW } from './adam.js';
export type { AdamConfig } from './adam.js';
export { RMSprop } from './rmsprop.js';
export type { RMSpropConfig } from './rmsprop.js';
export { Adagrad } from './adagrad.js';
export type { AdagradConfig } from './adagrad.js';
export {
  LearningRateSchedule,
  ExponentialDecay,
  InverseTimeDecay,
  PiecewiseConstantDecay,
  CosineDecay,
  scheduleFromConfig,
} from './schedules.js';
export type {
  ScheduleConfig,
  ExponentialDecayConfig,
  InverseTimeDecayConfig,
  PiecewiseConstantDecayConfig,
  CosineDecayConfig,
} from './schedules.js';

/** Every optimizer by class name, built from a config. */
const OPTIMIZERS: Record<string, (config: never) => Optimizer> = {
  SGD: (c) => new SGD(c),
  Adam: (c) => new Adam(c),
  AdamW: (c) => new AdamW(c),
  RMSprop: (c) => new RMSprop(c),
  Adagrad: (c) => new Adagrad(c),
};

/** The names `compile` accepts for an optimizer with default settings, as Keras's strings. */
export type OptimizerName = 'sgd' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad';
const BY_NAME: Record<OptimizerName, string> = {
  sgd: 'SGD',
  adam: 'Adam',
  adamw: 'AdamW',
  rmsprop: 'RMSprop',
  adagrad: 'Adagrad',
};

/** An optimizer from its name ('adam', 'sgd', …) with default settings, or the instance itself. */
export function getOptimizer(spec: Optimizer | OptimizerName): Optimizer {
  if (typeof spec !== 'string') return spec;
  const className = BY_NAME[spec];
  if (className === undefined)
    throw new ArgumentError(
      `unknown optimizer '${String(spec)}' (expected one of ${Object.keys(BY_NAME).join(', ')}, or an Optimizer)`,
    );
  return OPTIMIZERS[className]({} as never);
}

/** An optimizer rebuilt from what `getConfig` recorded (a schedule included); null for an unknown class. */
export function optimizerFromConfig(spec: { className: string; config: OptimizerConfigJson }): Optimizer | null {
  const make = OPTIMIZERS[spec.className];
  if (make === undefined) return null;
  return make({ ...spec.config, learningRate: learningRateFromConfig(spec.config.learningRate) } as never);
}
