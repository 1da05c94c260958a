/**
 * The moving average of a weight array, in float32 arithmetic (Keras's `use_ema`):
 *   average ← m·average + rest·w
 * each product rounded to float32, then the sum: a WebAssembly SIMD loop (four lanes), or
 * where SIMD is missing, and for the last values, the same operations in JavaScript rounded
 * after each one. Both give the same bits. Averages made by `emaAverage` live in WebAssembly
 * memory beside room for the weights, so a step copies only the weights in.
 */
import { F32, I32, V128, bump, compileModule, encodeModule, forLoop, op } from './wasm-asm.js';

type Run = (average: number, w: number, groups: number, m: number, rest: number) => void;

function buildModule(): Uint8Array<ArrayBuffer> {
  const [average, w, groups, m, rest] = [0, 1, 2, 3, 4];
  const [i, M, R] = [5, 6, 7];
  const body = [
    op.get(m),
    op.f32x4Splat,
    op.set(M),
    op.get(rest),
    op.f32x4Splat,
    op.set(R),
    ...forLoop(i, groups, [
      // average = m·average + rest·w
      op.get(average),
      op.get(M),
      op.get(average),
      op.v128Load(0),
      op.f32x4Mul,
      op.get(R),
      op.get(w),
      op.v128Load(0),
      op.f32x4Mul,
      op.f32x4Add,
      op.v128Store(0),
      ...[average, w].flatMap((ptr) => bump(ptr, [op.i32(16)])),
    ]),
  ];
  return encodeModule([
    {
      exportName: 'ema',
      params: [I32, I32, I32, F32, F32],
      locals: [
        [1, I32],
        [2, V128],
      ],
      body,
    },
  ]);
}

const module = compileModule(buildModule());

const instantiate = (memory: WebAssembly.Memory): Run =>
  new WebAssembly.Instance(module!, { env: { memory } }).exports.ema as Run;

/** An average made by `emaAverage`: its memory ([w | average]) and kernel. */
const resident = new WeakMap<Float32Array, { heap: Float32Array; run: Run }>();

/** A zeroed average for a weight of `n` values, resident in WebAssembly memory where SIMD runs. */
export function emaAverage(n: number): Float32Array {
  if (module === null || n < 4) return new Float32Array(n);
  const memory = new WebAssembly.Memory({ initial: Math.ceil((8 * n) / 65536) });
  const heap = new Float32Array(memory.buffer, 0, 2 * n);
  const average = heap.subarray(n, 2 * n);
  resident.set(average, { heap, run: instantiate(memory) });
  return average;
}

const f32 = Math.fround;

function emaTail(average: Float32Array, w: Float32Array, from: number, to: number, m: number, rest: number): void {
  for (let i = from; i < to; i++) average[i] = f32(m * average[i]) + f32(rest * w[i]);
}

/** average ← m·average + rest·w in place (m and rest rounded to float32); an average from `emaAverage` runs in SIMD. */
export function emaUpdate(average: Float32Array, w: Float32Array, m: number, rest: number): void {
  [m, rest] = [f32(m), f32(rest)];
  const n = w.length;
  const home = resident.get(average);
  const simd = home === undefined ? 0 : n - (n % 4);
  if (simd > 0) {
    home!.heap.set(w.subarray(0, simd), 0);
    home!.run(4 * n, 0, simd / 4, m, rest);
  }
  emaTail(average, w, simd, n, m, rest);
}

/** The JavaScript path alone (tests check that both paths give the same bits). */
export function emaUpdateScalar(average: Float32Array, w: Float32Array, m: number, rest: number): void {
  emaTail(average, w, 0, w.length, f32(m), f32(rest));
}
