export { WaypointError, ShapeError, ArgumentError } from './errors.js';
export { Tensor, tensor, zeros, ones, full, randn, noGrad, isGradEnabled } from './tensor/tensor.js';
export type { NestedArray, TensorLike } from './tensor/tensor.js';
export * from './tensor/ops.js';
export { Random, defaultRandom, setGlobalSeed } from './data/random.js';
export type { RandomState } from './data/random.js';
export { setBackend, getBackend, BackendError } from './backend/index.js';
export type { BackendChoice, BackendInfo, BackendName } from './backend/index.js';
export * from './checkpoint/index.js';
