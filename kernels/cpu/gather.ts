import { allocate, allocateZeroed, copyOut } from '../buffers.js';
import { I32, compileModule, encodeModule, forLoop, op } from './wasm-asm.js';
import { growMemory } from './wasm-memory.js';

/**
 * A gather along the middle axis of x [outer, len, inner] (an Embedding's lookup) and its
 * gradient: each of the `n` gathered rows of dL/dy added into the row of x it came from, every
 * other row zero. Only the rows looked up are touched: n·inner adds. Rows move and add four
 * values at a time in WebAssembly SIMD where they come in fours (and outer is 1), in JavaScript
 * otherwise; the same float32 adds in the same order either way, so the same bits.
 */
function buildModule(): Uint8Array<ArrayBuffer> {
  // Both walk the looked-up rows: (table, indices, flat, n, vectors), ROW = table + indices[j]·vectors·16,
  // `flat` advancing a row of `vectors` v128s at a time.
  const [TABLE, IDX, FLAT, N, VECTORS, J, V, ROW] = [0, 1, 2, 3, 4, 5, 6, 7];
  const rowPass = (exportName: string, move: number[][]) => ({
    exportName,
    params: [I32, I32, I32, I32, I32],
    locals: [[3, I32]] as Array<[number, number]>,
    body: forLoop(J, N, [
      op.get(TABLE),
      op.get(IDX),
      op.load(0),
      op.get(VECTORS),
      op.mul,
      op.i32(4),
      op.shl,
      op.add,
      op.set(ROW),
      ...forLoop(V, VECTORS, [...move, ...[ROW, FLAT].flatMap((p) => [op.get(p), op.i32(16), op.add, op.set(p)])]),
      op.get(IDX),
      op.i32(4),
      op.add,
      op.set(IDX),
    ]),
  });
  return encodeModule([
    // gatherRows: flat[j] = table[indices[j]]
    rowPass('gatherRows', [op.get(FLAT), op.get(ROW), op.v128Load(0), op.v128Store(0)]),
    // scatterAdd: table[indices[j]] += flat[j]
    rowPass('scatterAdd', [
      op.get(ROW),
      op.get(ROW),
      op.v128Load(0),
      op.get(FLAT),
      op.v128Load(0),
      op.f32x4Add,
      op.v128Store(0),
    ]),
  ]);
}
type RowPass = (table: number, indices: number, flat: number, n: number, vectors: number) => void;
interface Kernel {
  memory: WebAssembly.Memory;
  scatterAdd: RowPass;
  gatherRows: RowPass;
}

let kernel: Kernel | null | undefined;

function load(): Kernel | null {
  const module = compileModule(buildModule());
  if (module === null) return null;
  const memory = new WebAssembly.Memory({ initial: 16 });
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  return { memory, scatterAdd: exports.scatterAdd as RowPass, gatherRows: exports.gatherRows as RowPass };
}

/** The memory grown to `floats`, as floats and int32s. */
function views(k: Kernel, floats: number): [Float32Array, Int32Array] {
  growMemory(k.memory, 4 * floats);
  return [new Float32Array(k.memory.buffer), new Int32Array(k.memory.buffer)];
}

const simdApplies = (outer: number, inner: number) => outer === 1 && inner % 4 === 0 && inner > 0;

/**
 * x's rows `indices` along the middle axis: [outer, n, inner]. In SIMD only where the table is
 * at most four times the rows gathered: it is copied into the kernel's memory whole.
 */
export function gatherRows(
  x: Float32Array,
  indices: ArrayLike<number>,
  outer: number,
  len: number,
  inner: number,
): Float32Array {
  kernel ??= load();
  const n = indices.length;
  if (kernel === null || !simdApplies(outer, inner) || x.length > 4 * n * inner)
    return gatherRowsScalar(x, indices, outer, len, inner);
  const [f32, i32] = views(kernel, x.length + n + n * inner);
  f32.set(x, 0);
  for (let j = 0; j < n; j++) i32[x.length + j] = indices[j];
  const out = x.length + n;
  kernel.gatherRows(0, 4 * x.length, 4 * out, n, inner / 4);
  return copyOut(f32, out, n * inner);
}

export function gatherRowsScalar(
  x: Float32Array,
  indices: ArrayLike<number>,
  outer: number,
  len: number,
  inner: number,
): Float32Array {
  const n = indices.length;
  const out = allocate(outer * n * inner);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < n; j++) {
      const src = (o * len + indices[j]) * inner;
      out.set(x.subarray(src, src + inner), (o * n + j) * inner);
    }
  return out;
}

export function gatherGrad(
  g: Float32Array,
  indices: ArrayLike<number>,
  outer: number,
  len: number,
  inner: number,
): Float32Array {
  kernel ??= load();
  if (kernel === null || !simdApplies(outer, inner)) return gatherGradScalar(g, indices, outer, len, inner);
  const n = indices.length;
  const [f32, i32] = views(kernel, g.length + n + len * inner);
  f32.set(g, 0);
  for (let j = 0; j < n; j++) i32[g.length + j] = indices[j];
  const table = g.length + n;
  f32.fill(0, table, table + len * inner);
  kernel.scatterAdd(4 * table, 4 * g.length, 0, n, inner / 4);
  return copyOut(f32, table, len * inner);
}

/** The JavaScript loop alone (tests check the SIMD kernel against it). */
export function gatherGradScalar(
  g: Float32Array,
  indices: ArrayLike<number>,
  outer: number,
  len: number,
  inner: number,
): Float32Array {
  const n = indices.length;
  const gx = allocateZeroed(outer * len * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const dst = (o * len + indices[j]) * inner;
      const src = (o * n + j) * inner;
      for (let i = 0; i < inner; i++) gx[dst + i] += g[src + i];
    }
  }
  return gx;
}
