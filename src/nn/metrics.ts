/**
 * Metrics computed on plain arrays (no graph). `accuracy` resolves like Keras from the loss:
 * categorical (argmax match), sparse (argmax vs integer label) or binary (threshold).
 */
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { LossName } from './losses.js';

/** Returns the number of correct predictions (or summed error) and the count it is over. */
export type MetricFn = (yTrue: Tensor, output: Tensor, fromLogits: boolean) => { total: number; count: number };

function argmaxRow(data: Float32Array, row: number, width: number): number {
  let best = 0;
  for (let j = 1; j < width; j++) if (data[row * width + j] > data[row * width + best]) best = j;
  return best;
}

const categoricalAccuracy: MetricFn = (y, out) => {
  const width = out.shape[out.rank - 1],
    rows = out.size / width;
  let correct = 0;
  for (let r = 0; r < rows; r++) correct += Number(argmaxRow(out.data, r, width) === argmaxRow(y.data, r, width));
  return { total: correct, count: rows };
};

const sparseCategoricalAccuracy: MetricFn = (y, out) => {
  const width = out.shape[out.rank - 1],
    rows = out.size / width;
  let correct = 0;
  for (let r = 0; r < rows; r++) correct += Number(argmaxRow(out.data, r, width) === y.data[r]);
  return { total: correct, count: rows };
};

const binaryAccuracy: MetricFn = (y, out, fromLogits) => {
  const threshold = fromLogits ? 0 : 0.5; // sigmoid(z) > 0.5 ⇔ z > 0
  let correct = 0;
  for (let i = 0; i < out.size; i++) correct += Number(out.data[i] > threshold === y.data[i] > 0.5);
  return { total: correct, count: out.size };
};

const ACCURACY_FOR: Record<LossName, MetricFn> = {
  categoricalCrossentropy: categoricalAccuracy,
  sparseCategoricalCrossentropy: sparseCategoricalAccuracy,
  binaryCrossentropy: binaryAccuracy,
  mse: categoricalAccuracy,
};

export interface ResolvedMetric {
  name: string;
  fn: MetricFn;
}

export function resolveMetric(name: string, loss: LossName): ResolvedMetric {
  if (name === 'accuracy' || name === 'acc') return { name: 'accuracy', fn: ACCURACY_FOR[loss] };
  if (name === 'categoricalAccuracy') return { name, fn: categoricalAccuracy };
  if (name === 'binaryAccuracy') return { name, fn: binaryAccuracy };
  throw new ArgumentError(`unknown metric '${name}' (expected 'accuracy', 'categoricalAccuracy' or 'binaryAccuracy')`);
}
