/**
 * `weights: 'raw' | 'ema'`: where a model's weights may be read as its optimizer's moving
 * averages (`ema` on the optimizer) instead of the trained values — to evaluate, save or load
 * the averaged model while training keeps the raw weights.
 */
import { ArgumentError } from '../errors.js';
import type { Model } from './model.js';

export type WhichWeights = 'raw' | 'ema';

export function checkWhichWeights(where: string, weights: unknown): WhichWeights {
  if (weights === undefined || weights === 'raw') return 'raw';
  if (weights === 'ema') return 'ema';
  throw new ArgumentError(`${where}: weights must be 'raw' or 'ema', got ${JSON.stringify(weights)}`);
}

/** The optimizer's average of each trainable weight, by path; a clear error where there are none. */
function averagesOf(model: Model, where: string): ReadonlyMap<string, Float32Array> {
  const optimizer = model.optimizer;
  if (optimizer?.ema === undefined)
    throw new ArgumentError(
      `${where}: weights 'ema' needs an optimizer with ema (${optimizer ? `this model's ${optimizer.className} keeps no averages` : 'this model is not compiled'})`,
    );
  const averages = optimizer.averages;
  const missing = model.namedParams().find(([path]) => !averages.has(path));
  if (missing !== undefined)
    throw new ArgumentError(
      `${where}: no moving average of ${missing[0]} yet (the optimizer keeps them from its first step)`,
    );
  return averages;
}

/** Puts the moving averages in the weights, for good (a model loaded for its averaged weights). */
export function useEmaWeights(model: Model, where: string): void {
  const averages = averagesOf(model, where);
  for (const [path, p] of model.namedParams()) p.data.set(averages.get(path)!);
}

/** Runs `fn` with the moving averages in the weights, then puts the raw weights back, whatever happens. */
export async function withWeights<T>(
  model: Model,
  which: WhichWeights,
  where: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (which === 'raw') return fn();
  const averages = averagesOf(model, where);
  const raw = model.namedParams().map(([path, p]) => {
    const saved = p.data.slice();
    p.data.set(averages.get(path)!);
    return [p, saved] as const;
  });
  try {
    return await fn();
  } finally {
    for (const [p, saved] of raw) p.data.set(saved);
  }
}
