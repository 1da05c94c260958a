import type {
  Conv2dInfo,
  Normalized,
  NormalizedGrad,
  Recurrence,
  RecurrenceInfo,
  Window2d,
} from '../../kernels/types.js';

/**
 * What a backend must compute: the heavy kernels. Ops validate shapes and build the
 * graph; a backend trusts its inputs and only does arithmetic on flat float32 arrays.
 */
export interface Backend {
  readonly name: BackendName;
  matmul(
    a: Float32Array,
    b: Float32Array,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
  ): Float32Array;
  conv2d(x: Float32Array, filter: Float32Array, info: Conv2dInfo): Float32Array;
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, info: Conv2dInfo): Float32Array;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, info: Conv2dInfo): Float32Array;
  /** act(conv2d + bias) in one kernel, where the backend has one for this shape; null (or absent) and the op composes it. */
  conv2dBiasActivation?(
    x: Float32Array,
    filter: Float32Array,
    bias: Float32Array,
    relu: boolean,
    info: Conv2dInfo,
  ): Float32Array | null;
  /*
   * Kernels with a cpu default (src/backend/cpu.ts): a backend that implements one takes it
   * over; `backend()` fills in the cpu's for those it leaves out. Ops reach every kernel
   * through the backend, never a kernel module directly.
   */
  maxPool2d?(x: Float32Array, info: Window2d): { out: Float32Array; argmax: Int32Array };
  maxPool2dBackward?(dy: Float32Array, argmax: Int32Array, inputSize: number): Float32Array;
  avgPool2d?(x: Float32Array, info: Window2d): Float32Array;
  avgPool2dBackward?(dy: Float32Array, info: Window2d): Float32Array;
  /** [batch, positions, channels] → [batch, channels]: each channel's mean over the positions (GlobalAveragePooling2D). */
  globalAvgPool?(x: Float32Array, batch: number, positions: number, channels: number): Float32Array;
  globalAvgPoolBackward?(dy: Float32Array, batch: number, positions: number, channels: number): Float32Array;
  /** x + bias along the last axis (`bias.length` channels), then relu if asked. */
  biasActivation?(x: Float32Array, bias: Float32Array, relu: boolean): Float32Array;
  /** Given y = biasActivation(...) and dL/dy: dL/dx and dL/dbias. */
  biasActivationGrad?(
    y: Float32Array,
    dy: Float32Array,
    channels: number,
    relu: boolean,
  ): { dz: Float32Array; dbias: Float32Array };
  /** Rows `indices` of x [outer, len, inner] along its middle axis: [outer, indices.length, inner]. */
  gather?(x: Float32Array, indices: ArrayLike<number>, outer: number, len: number, inner: number): Float32Array;
  /** The gradient of a gather of `indices` along the middle axis of [outer, len, inner]: g's rows added into theirs. */
  gatherGrad?(g: Float32Array, indices: ArrayLike<number>, outer: number, len: number, inner: number): Float32Array;
  /** sigmoid or tanh of every value. */
  activate?(x: Float32Array, name: 'sigmoid' | 'tanh'): Float32Array;
  /** Given y = activate(x) and dL/dy: dL/dx. */
  activateGrad?(y: Float32Array, dy: Float32Array, name: 'sigmoid' | 'tanh'): Float32Array;
  /** LayerNormalization: each of `rows` rows of `f` values by its own statistics, then γ and β per column. */
  normalizeRows?(
    x: Float32Array,
    rows: number,
    f: number,
    gamma: Float32Array | null,
    beta: Float32Array | null,
    epsilon: number,
  ): Normalized;
  normalizeRowsGrad?(
    dy: Float32Array,
    forward: Normalized,
    rows: number,
    f: number,
    gamma: Float32Array | null,
    withGamma: boolean,
    withBeta: boolean,
  ): NormalizedGrad;
  /** BatchNormalization in training: each of `c` channels by its statistics over `positions` rows, then γ and β. */
  normalizeChannels?(
    x: Float32Array,
    positions: number,
    c: number,
    gamma: Float32Array | null,
    beta: Float32Array | null,
    epsilon: number,
  ): Normalized;
  normalizeChannelsGrad?(
    dy: Float32Array,
    forward: Normalized,
    positions: number,
    c: number,
    gamma: Float32Array | null,
    withGamma: boolean,
    withBeta: boolean,
  ): NormalizedGrad;
  /** The LSTM recurrence over `projections` [batch, time, 4u] with recurrent kernel [u, 4u] (kernels/cpu/recurrent.ts). */
  lstm?(projections: Float32Array, recurrent: Float32Array, info: RecurrenceInfo): Recurrence;
  /** The GRU recurrence (resetAfter) over [batch, time, 3u] with recurrent kernel [u, 3u] and recurrent bias [3u] or null. */
  gru?(
    projections: Float32Array,
    recurrent: Float32Array,
    recurrentBias: Float32Array | null,
    info: RecurrenceInfo,
  ): Recurrence;
  /** Adam's m and v for a parameter of `size` values, in memory the update kernel works in. */
  adamSlots?(size: number): [Float32Array, Float32Array];
  /** One Adam step in place, in float32 (Keras's formulation: c1 = 1−β₁, c2 = 1−β₂). */
  adamUpdate?(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    c1: number,
    c2: number,
    alpha: number,
    eps: number,
  ): void;
  /** A zeroed moving average for a weight of `size` values, in memory the update kernel works in. */
  emaAverage?(size: number): Float32Array;
  /** average ← m·average + rest·w in place, in float32 (each product rounded, then the sum). */
  emaUpdate?(average: Float32Array, w: Float32Array, m: number, rest: number): void;
}

/** The kernels every backend has, its own or the cpu's. */
export const DEFAULTED_KERNELS = [
  'maxPool2d',
  'maxPool2dBackward',
  'avgPool2d',
  'avgPool2dBackward',
  'globalAvgPool',
  'globalAvgPoolBackward',
  'biasActivation',
  'biasActivationGrad',
  'activate',
  'activateGrad',
  'gather',
  'gatherGrad',
  'normalizeRows',
  'normalizeRowsGrad',
  'normalizeChannels',
  'normalizeChannelsGrad',
  'lstm',
  'gru',
  'adamSlots',
  'adamUpdate',
  'emaAverage',
  'emaUpdate',
] as const;
export type CompleteBackend = Backend & Required<Pick<Backend, (typeof DEFAULTED_KERNELS)[number]>>;

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
