/** The exporters map a stack of layers: a Sequential. A functional model's graph is refused by name, with the format. */
import { ArgumentError } from '../errors.js';
import type { Model } from '../model/model.js';
import { Sequential } from '../model/sequential.js';

export function stackOf(model: Model, format: string): Sequential {
  if (model instanceof Sequential) return model;
  throw new ArgumentError(
    `${format}: '${model.name}' is a functional model (${model.className}); this export writes Sequential models only`,
  );
}
