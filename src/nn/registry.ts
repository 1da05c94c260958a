import { ArgumentError } from '../errors.js';
import type { Layer, LayerExample } from './layer.js';
import { Dense } from './layers/dense.js';
import { Conv2D } from './layers/conv2d.js';
import { Activation, Dropout, Flatten, Reshape } from './layers/simple.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPool2D } from './layers/pooling.js';
import { BatchNormalization, LayerNormalization } from './layers/normalization.js';
import { Embedding } from './layers/embedding.js';
import { GRU, LSTM } from './layers/recurrent.js';
import { Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract } from './layers/merge.js';
import { InputLayer } from './layers/input.js';

export interface SerializedLayer {
  className: string;
  config: Record<string, unknown>;
}

export type LayerClass = (new (config: never) => Layer) & { example?: LayerExample };
const registry = new Map<string, LayerClass>([
  ['Dense', Dense],
  ['Conv2D', Conv2D],
  ['MaxPool2D', MaxPool2D],
  ['Flatten', Flatten],
  ['Dropout', Dropout],
  ['Activation', Activation],
  ['Reshape', Reshape],
  ['AveragePooling2D', AveragePooling2D],
  ['GlobalAveragePooling2D', GlobalAveragePooling2D],
  ['GlobalMaxPooling2D', GlobalMaxPooling2D],
  ['BatchNormalization', BatchNormalization],
  ['LayerNormalization', LayerNormalization],
  ['Embedding', Embedding],
  ['LSTM', LSTM],
  ['GRU', GRU],
  ['InputLayer', InputLayer],
  ['Add', Add],
  ['Subtract', Subtract],
  ['Multiply', Multiply],
  ['Average', Average],
  ['Maximum', Maximum],
  ['Minimum', Minimum],
  ['Concatenate', Concatenate],
]);

/** Models used as layers (Sequential, Functional) are rebuilt by their own `fromConfig`: they register it here. */
const modelClasses = new Map<string, (config: never) => Layer>();

export function registerModelClass(className: string, fromConfig: (config: never) => Layer): void {
  modelClasses.set(className, fromConfig);
}

/** Every registered layer class by name (the library's, then registerLayer's): the layer contract runs over them. */
export function registeredLayers(): Array<[string, LayerClass]> {
  return [...registry.entries()];
}

/** Makes a custom layer class rebuildable from a saved config. */
export function registerLayer(className: string, cls: LayerClass): void {
  registry.set(className, cls);
}

export function serializeLayer(layer: Layer): SerializedLayer {
  return { className: layer.className, config: layer.getConfig() };
}

export function layerFromConfig(s: SerializedLayer): Layer {
  const fromConfig = modelClasses.get(s?.className);
  if (fromConfig !== undefined) return fromConfig(s.config as never);
  const cls = registry.get(s.className);
  if (cls === undefined) {
    throw new ArgumentError(
      `unknown layer class '${s.className}' (registered: ${[...registry.keys()].join(', ')}; use registerLayer for custom layers)`,
    );
  }
  return new cls(s.config as never);
}
