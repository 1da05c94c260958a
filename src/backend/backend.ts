import type { Conv2dInfo, Window2d } from '../../kernels/types.js';

/**
 * What a backend must compute: the heavy kernels. Ops validate shapes and build the
 * graph; a backend trusts its inputs and only does arithmetic on flat float32 arrays.
 */
export interface Backend {
  readonly name: BackendName;
  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, transA: boolean, transB: boolean): Float32Array;
  conv2d(x: Float32Array, filter: Float32Array, info: Conv2dInfo): Float32Array;
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, info: Conv2dInfo): Float32Array;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, info: Conv2dInfo): Float32Array;
  /** act(conv2d + bias) in one kernel, where the backend has one for this shape; null (or absent) and the op composes it. */
  conv2dBiasActivation?(x: Float32Array, filter: Float32Array, bias: Float32Array, relu: boolean, info: Conv2dInfo): Float32Array | null;
  maxPool2d(x: Float32Array, info: Window2d): { out: Float32Array; argmax: Int32Array };
  maxPool2dBackward(dy: Float32Array, argmax: Int32Array, inputSize: number): Float32Array;
}

export type BackendName = 'cpu' | 'gpu';

/** What actually runs, and why: returned by `getBackend()`. */
export interface BackendInfo {
  name: BackendName;
  /** The gpu.js mode in use, on the gpu backend. */
  gpujsMode?: string;
  /** Human-readable: kernels in use, and the reason for any fallback. */
  detail: string;
  /** Threads that compute large matmuls on the CPU now (configureThreads). */
  threads: number;
}
