export {
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  neg,
  exp,
  log,
  sqrt,
  relu,
  sigmoid,
  tanh,
  clip,
  broadcastData,
} from './ops/elementwise.js';
export { sum, mean, max } from './ops/reduce.js';
export { reshape, transpose, gather, takeRows, oneHot, slice, concat, stack } from './ops/layout.js';
export {
  matmul,
  biasAdd,
  conv2d,
  fusedConv2d,
  maxPool2d,
  avgPool2d,
  globalAvgPool2d,
  logSoftmax,
  softmax,
  dropout,
} from './ops/nn.js';
export type { Padding, Conv2dOptions, Pool2dOptions } from './ops/nn.js';
export { layerNorm, batchNormTraining } from './ops/normalization.js';
