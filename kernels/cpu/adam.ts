/**
 * Adam's update of one parameter array, in float32 arithmetic: a WebAssembly SIMD loop
 * (four lanes; sqrt and division included), or where SIMD is missing, and for the last
 * values, the same operations in JavaScript rounded to float32 after each one (exact: a
 * float64 result of float32 operands rounds to the float32 result). Both give the same bits.
 *   m += (g − m)·c1;  v += (g² − v)·c2;  p −= alpha·m / (√v + eps)
 */
import { F32, I32, V128, bump, compileModule, encodeModule, op } from './wasm-asm.js';

interface AdamKernel {
  memory: WebAssembly.Memory;
  run(
    p: number,
    g: number,
    m: number,
    v: number,
    groups: number,
    c1: number,
    c2: number,
    alpha: number,
    eps: number,
  ): void;
}

function buildModule(): Uint8Array<ArrayBuffer> {
  const [p, g, m, v, groups, c1, c2, alpha, eps] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [i, G, M, V, C1, C2, A, E] = [9, 10, 11, 12, 13, 14, 15, 16];
  const splat = (from: number, to: number) => [op.get(from), op.f32x4Splat, op.set(to)];
  const body = [
    ...splat(c1, C1),
    ...splat(c2, C2),
    ...splat(alpha, A),
    ...splat(eps, E),
    op.i32(0),
    op.set(i),
    op.block,
    op.loop,
    op.get(i),
    op.get(groups),
    op.geU,
    op.brIf(1),
    op.get(g),
    op.v128Load(0),
    op.set(G),
    // m += (g − m)·c1
    op.get(m),
    op.v128Load(0),
    op.set(M),
    op.get(M),
    op.get(G),
    op.get(M),
    op.f32x4Sub,
    op.get(C1),
    op.f32x4Mul,
    op.f32x4Add,
    op.set(M),
    op.get(m),
    op.get(M),
    op.v128Store(0),
    // v += (g² − v)·c2
    op.get(v),
    op.v128Load(0),
    op.set(V),
    op.get(V),
    op.get(G),
    op.get(G),
    op.f32x4Mul,
    op.get(V),
    op.f32x4Sub,
    op.get(C2),
    op.f32x4Mul,
    op.f32x4Add,
    op.set(V),
    op.get(v),
    op.get(V),
    op.v128Store(0),
    // p −= alpha·m / (√v + eps)
    op.get(p),
    op.get(p),
    op.v128Load(0),
    op.get(A),
    op.get(M),
    op.f32x4Mul,
    op.get(V),
    op.f32x4Sqrt,
    op.get(E),
    op.f32x4Add,
    op.f32x4Div,
    op.f32x4Sub,
    op.v128Store(0),
    ...[p, g, m, v].flatMap((ptr) => bump(ptr, [op.i32(16)])),
    op.get(i),
    op.i32(1),
    op.add,
    op.set(i),
    op.br(0),
    op.end,
    op.end,
  ];
  return encodeModule([
    {
      exportName: 'adam',
      params: [I32, I32, I32, I32, I32, F32, F32, F32, F32],
      locals: [
        [1, I32],
        [7, V128],
      ],
      body,
    },
  ]);
}

const module = compileModule(buildModule());

function instantiate(memory: WebAssembly.Memory): AdamKernel['run'] {
  return new WebAssembly.Instance(module!, { env: { memory } }).exports.adam as AdamKernel['run'];
}

function load(): AdamKernel | null {
  if (module === null) return null;
  const memory = new WebAssembly.Memory({ initial: 1 });
  return { memory, run: instantiate(memory) };
}

const kernel = load();

/**
 * Slots m and v made by `adamSlots`: views into a memory of their own that also holds room for
 * the parameter and its gradient ([p | g | m | v]), never grown, so the views stay valid. An
 * update then copies p and g in and p out, where slots from elsewhere go in and out too.
 */
const resident = new WeakMap<Float32Array, { v: Float32Array; heap: Float32Array; run: AdamKernel['run'] }>();

/** Zeroed m and v for a parameter of `n` values, resident in WebAssembly memory where SIMD runs. */
export function adamSlots(n: number): [Float32Array, Float32Array] {
  if (module === null || n < 4) return [new Float32Array(n), new Float32Array(n)];
  const memory = new WebAssembly.Memory({ initial: Math.ceil((16 * n) / 65536) });
  const heap = new Float32Array(memory.buffer, 0, 4 * n);
  const m = heap.subarray(2 * n, 3 * n),
    v = heap.subarray(3 * n, 4 * n);
  resident.set(m, { v, heap, run: instantiate(memory) });
  return [m, v];
}

const f32 = Math.fround;

/** The update of values [from, to) in JavaScript, rounded as float32 arithmetic is. */
function adamTail(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  from: number,
  to: number,
  c1: number,
  c2: number,
  alpha: number,
  eps: number,
): void {
  for (let i = from; i < to; i++) {
    const gi = g[i];
    const mi = f32(m[i] + f32(f32(gi - m[i]) * c1));
    const vi = f32(v[i] + f32(f32(f32(gi * gi) - v[i]) * c2));
    m[i] = mi;
    v[i] = vi;
    p[i] = f32(p[i] - f32(f32(alpha * mi) / f32(f32(Math.sqrt(vi)) + eps)));
  }
}

/** Updates `p`, `m` and `v` in place from the gradient `g` (all of one length); the constants are rounded to float32. */
export function adamUpdate(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  c1: number,
  c2: number,
  alpha: number,
  eps: number,
): void {
  [c1, c2, alpha, eps] = [f32(c1), f32(c2), f32(alpha), f32(eps)];
  const n = p.length;
  const simd = kernel === null ? 0 : n - (n % 4);
  const home = resident.get(m);
  if (home !== undefined && home.v === v && simd > 0) {
    home.heap.set(p.subarray(0, simd), 0);
    home.heap.set(g.subarray(0, simd), n);
    home.run(0, 4 * n, 8 * n, 12 * n, simd / 4, c1, c2, alpha, eps);
    p.set(home.heap.subarray(0, simd));
  } else if (simd > 0) {
    const bytes = simd * 4;
    const need = 4 * bytes - kernel!.memory.buffer.byteLength;
    if (need > 0) kernel!.memory.grow(Math.ceil(need / 65536));
    const heap = new Float32Array(kernel!.memory.buffer);
    heap.set(p.subarray(0, simd), 0);
    heap.set(g.subarray(0, simd), simd);
    heap.set(m.subarray(0, simd), 2 * simd);
    heap.set(v.subarray(0, simd), 3 * simd);
    kernel!.run(0, bytes, 2 * bytes, 3 * bytes, simd / 4, c1, c2, alpha, eps);
    p.set(heap.subarray(0, simd));
    m.set(heap.subarray(2 * simd, 3 * simd));
    v.set(heap.subarray(3 * simd, 4 * simd));
  }
  adamTail(p, g, m, v, simd, n, c1, c2, alpha, eps);
}

/** The JavaScript path alone (tests check that both paths give the same bits). */
export function adamUpdateScalar(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  c1: number,
  c2: number,
  alpha: number,
  eps: number,
): void {
  adamTail(p, g, m, v, 0, p.length, f32(c1), f32(c2), f32(alpha), f32(eps));
}
