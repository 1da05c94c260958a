import { keepBuffer } from '../../kernels/buffers.js';
import type { Tensor } from './tensor.js';

export { bufferStats, setBufferPooling, withBufferScope } from '../../kernels/buffers.js';

/**
 * Keeps a tensor computed inside a training step alive past it, as TensorFlow.js's `keep`:
 * fit recycles every other buffer of the step when the step ends (kernels/buffers.ts). A
 * custom layer that holds on to an activation for a later batch keeps it.
 */
export function keep(t: Tensor): Tensor {
  keepBuffer(t.data);
  return t;
}
