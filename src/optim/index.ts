import { ArgumentError } from '../errors.js';
import { Adam } from './adam.js';
import { SGD } from './sgd.js';
import type { Optimizer } from './optimizer.js';

export { Optimizer } from './optimizer.js';
export type { NamedParams } from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDConfig } from './sgd.js';
export { Adam } from './adam.js';
export type { AdamConfig } from './adam.js';

/** An optimizer from its name ('adam', 'sgd') with default settings, or the instance itself. */
export function getOptimizer(spec: Optimizer | 'adam' | 'sgd'): Optimizer {
  if (typeof spec !== 'string') return spec;
  if (spec === 'adam') return new Adam();
  if (spec === 'sgd') return new SGD();
  throw new ArgumentError(`unknown optimizer '${String(spec)}' (expected 'adam', 'sgd' or an Optimizer)`);
}
