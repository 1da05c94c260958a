/**
 * Keras's default layer names: the snake-cased Keras class name (`batch_normalization`,
 * `conv2d`), then `_1`, `_2`, … for later layers of the same class; a layer's own name wins.
 * Exports and TensorBoard's tags use them, so they read as Keras's do.
 */
import type { Model } from './model.js';

/** Keras's to_snake_case: `(.)([A-Z][a-z]+)` → `\1_\2`, then `([a-z])([A-Z])` → `\1_\2`, lower-cased. */
export function snakeCase(className: string): string {
  return className
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

export function kerasLayerNames(model: Model): string[] {
  const used = new Set<string>();
  const seen = new Map<string, number>();
  return model.layers.map((l) => {
    const base = snakeCase(l.kerasClassName);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    let name = l.name || (n === 0 ? base : `${base}_${n}`);
    while (used.has(name)) name = `${name}_`;
    used.add(name);
    return name;
  });
}
