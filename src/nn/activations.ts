import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { biasAdd, relu, sigmoid, tanh, softmax } from '../tensor/ops.js';

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
    throw new ArgumentError(
      `${where}: unknown activation '${String(name)}' (expected one of ${Object.keys(ACTIVATIONS).join(', ')})`,
    );
  }
  return fn;
}

/**
 * A layer's tail: y + bias (when it has one), then its activation, skipped for logits. A relu
 * goes into the bias's own pass (biasAdd): the same bits, two passes each way fewer.
 */
export function biasThenActivate(
  y: Tensor,
  bias: Tensor | null,
  name: ActivationName,
  act: (x: Tensor) => Tensor,
  logits = false,
): Tensor {
  if (bias === null) return logits ? y : act(y);
  if (!logits && name === 'relu') return biasAdd(y, bias, 'relu');
  const z = biasAdd(y, bias);
  return logits ? z : act(z);
}
