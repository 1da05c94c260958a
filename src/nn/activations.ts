import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { relu, sigmoid, tanh, softmax } from '../tensor/ops.js';

export type ActivationName = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'softmax';
const ACTIVATIONS: Record<ActivationName, (x: Tensor) => Tensor> = {
  linear: (x) => x,
  relu,
  sigmoid,
  tanh,
  softmax: (x) => softmax(x, -1),
};

export function activation(name: ActivationName | undefined, where: string): (x: Tensor) => Tensor {
  const fn = ACTIVATIONS[name ?? 'linear'];
  if (fn === undefined) {
    throw new ArgumentError(`${where}: unknown activation '${String(name)}' (expected one of ${Object.keys(ACTIVATIONS).join(', ')})`);
  }
  return fn;
}
