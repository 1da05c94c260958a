import { allocate, allocateZeroed, copyOut } from '../buffers.js';
import { I32, V128, bump, encodeModule, forLoop, op } from './wasm-asm.js';
import { growMemory } from './wasm-memory.js';

/**
 * A layer's tail on its last axis, forward and backward:
 *   y = act(x + bias)                    (act: identity or relu)
 *   dz = relu ? (y > 0 ? g : 0) : g;  dbias = Σ_rows dz
 * In WebAssembly SIMD where the channels come in fours, else in JavaScript. The relu's
 * branch is the cost here, not the arithmetic: on activations of random sign a JavaScript
 * `z > 0 ? z : 0` mispredicts half the time (8 ns a value against 1 ns on sorted data), where
 * f32x4.max and a compare-and-mask have no branch. Both paths give the same bits: float32
 * adds, relu as max(z, 0) (NaN stays NaN, −0 becomes 0), its gradient zero where y ≤ 0,
 * bias sums row after row.
 */
function buildModule(): Uint8Array<ArrayBuffer> {
  // Both walk rows of four-channel groups, the bias (or its gradient) from its start each row.
  const forward = (() => {
    const [X, B, OUT, ROWS, GROUPS, RELU, R, G, BP, ZERO, Z] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    return {
      exportName: 'forward',
      params: Array(6).fill(I32),
      locals: [
        [3, I32],
        [2, V128],
      ] as Array<[number, number]>,
      body: [
        op.i32(0),
        op.i32x4Splat,
        op.set(ZERO),
        ...forLoop(R, ROWS, [
          op.get(B),
          op.set(BP),
          ...forLoop(G, GROUPS, [
            op.get(X),
            op.v128Load(0),
            op.get(BP),
            op.v128Load(0),
            op.f32x4Add,
            op.set(Z),
            op.get(RELU),
            op.if,
            op.get(Z),
            op.get(ZERO),
            op.f32x4Max,
            op.set(Z),
            op.end,
            op.get(OUT),
            op.get(Z),
            op.v128Store(0),
            ...[X, OUT, BP].flatMap((ptr) => bump(ptr, [op.i32(16)])),
          ]),
        ]),
      ],
    };
  })();
  const backward = (() => {
    const [Y, GR, DZ, DB, ROWS, GROUPS, RELU, R, G, BP, ZERO, D] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    return {
      exportName: 'backward',
      params: Array(7).fill(I32),
      locals: [
        [3, I32],
        [2, V128],
      ] as Array<[number, number]>,
      body: [
        op.i32(0),
        op.i32x4Splat,
        op.set(ZERO),
        ...forLoop(R, ROWS, [
          op.get(DB),
          op.set(BP),
          ...forLoop(G, GROUPS, [
            op.get(GR),
            op.v128Load(0),
            op.set(D),
            // relu: zero g where y ≤ 0 (an all-ones lane mask; a NaN y lets g through).
            op.get(RELU),
            op.if,
            op.get(D),
            op.get(Y),
            op.v128Load(0),
            op.get(ZERO),
            op.f32x4Le,
            op.v128AndNot,
            op.set(D),
            op.end,
            op.get(DZ),
            op.get(D),
            op.v128Store(0),
            op.get(BP),
            op.get(BP),
            op.v128Load(0),
            op.get(D),
            op.f32x4Add,
            op.v128Store(0),
            ...[Y, GR, DZ, BP].flatMap((ptr) => bump(ptr, [op.i32(16)])),
          ]),
        ]),
      ],
    };
  })();
  return encodeModule([forward, backward]);
}

interface BiasKernels {
  memory: WebAssembly.Memory;
  forward(x: number, bias: number, out: number, rows: number, groups: number, relu: number): void;
  backward(y: number, g: number, dz: number, db: number, rows: number, groups: number, relu: number): void;
}

function load(): BiasKernels | null {
  if (typeof WebAssembly === 'undefined') return null;
  const bytes = buildModule();
  if (!WebAssembly.validate(bytes)) return null;
  const memory = new WebAssembly.Memory({ initial: 16 });
  const { forward, backward } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
  return { memory, forward: forward as BiasKernels['forward'], backward: backward as BiasKernels['backward'] };
}

let kernels: BiasKernels | null | undefined;

function heapOf(k: BiasKernels, bytes: number): Float32Array {
  growMemory(k.memory, bytes);
  return new Float32Array(k.memory.buffer);
}

/** The SIMD kernels when they apply to this channel count (and `useSimd` allows). */
function simdFor(channels: number, useSimd: boolean): BiasKernels | null {
  if (!useSimd || channels % 4 !== 0) return null;
  kernels ??= load();
  return kernels;
}

/** act(x + bias) over rows of `bias.length` channels. */
export function biasActivate(x: Float32Array, bias: Float32Array, relu: boolean, useSimd = true): Float32Array {
  const channels = bias.length,
    simd = simdFor(channels, useSimd);
  if (simd === null) {
    const out = allocate(x.length);
    // One flat loop with a channel counter: an inner loop over a few channels costs more than its work.
    for (let i = 0, c = 0; i < out.length; i++) {
      const z = x[i] + bias[c];
      out[i] = relu && z <= 0 ? 0 : z;
      if (++c === channels) c = 0;
    }
    return out;
  }
  const n = x.length,
    heap = heapOf(simd, (2 * n + channels) * 4);
  heap.set(x, 0);
  heap.set(bias, n);
  simd.forward(0, 4 * n, 4 * (n + channels), n / channels, channels / 4, relu ? 1 : 0);
  return copyOut(heap, n + channels, n);
}

/** The gradients of `biasActivate` from its output `y` and the incoming gradient `g`. */
export function biasActivateGrad(
  y: Float32Array,
  g: Float32Array,
  channels: number,
  relu: boolean,
  useSimd = true,
): { dz: Float32Array; dbias: Float32Array } {
  const simd = simdFor(channels, useSimd);
  if (simd === null) {
    const dz = relu ? allocate(g.length) : g;
    const dbias = allocateZeroed(channels);
    for (let i = 0, c = 0; i < g.length; i++) {
      const v = relu && y[i] <= 0 ? 0 : g[i];
      if (relu) dz[i] = v;
      dbias[c] += v;
      if (++c === channels) c = 0;
    }
    return { dz, dbias };
  }
  const n = g.length,
    heap = heapOf(simd, (3 * n + channels) * 4);
  heap.set(y, 0);
  heap.set(g, n);
  heap.fill(0, 3 * n, 3 * n + channels);
  simd.backward(0, 4 * n, 8 * n, 12 * n, n / channels, channels / 4, relu ? 1 : 0);
  return { dz: relu ? copyOut(heap, 2 * n, n) : g, dbias: copyOut(heap, 3 * n, channels) };
}
