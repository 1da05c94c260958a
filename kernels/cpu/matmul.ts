import { allocate } from '../buffers.js';
import { MR, NR, type GemmKernel, type TransposeKernel, loadSimdGemm } from './gemm-simd.js';

/**
 * C[m,n] = op(A) · op(B), with op(A) = A or Aᵀ (A stored [k,m]) and likewise for B.
 *
 * GotoBLAS structure: B is packed in KC-row slabs into NR-column panels, A in MC×KC
 * blocks into MR-row panels, and a register-blocked micro-kernel walks them
 * contiguously (the B panel stays in L1, the A block in L2). Transposes are absorbed
 * by the packing, never materialized. C accumulates in a padded scratch matrix, so the
 * micro-kernel never handles ragged edges.
 */
const KC = 256;
const MC = MR * 16;

/**
 * Where reading A or B in place beats packing it, as `npm run bench -- matmul` measured
 * (numbers in docs/BENCHMARKS.md, "Constants chosen by measurement").
 */
const RAW_A_MAX_ROWS = 1024;
const RAW_B_MAX_ROWS = 128;
const RAW_B_MAX_COLS = 512;

/** A micro-kernel plus the scratch memory it addresses (byte addresses into `heap`). */
export interface GemmEngine {
  readonly name: string;
  heap(bytes: number): Float32Array;
  gemm: GemmKernel;
  /** Packs that are transposes (row-major A, transposed B) run as 4×4 block transposes in the engine's memory, where it has them. */
  transpose?: TransposeKernel;
}

function simdEngine(): GemmEngine | string {
  const simd = loadSimdGemm();
  if (typeof simd === 'string') return simd;
  let view = new Float32Array(simd.memory.buffer);
  return {
    name: 'wasm-simd',
    heap(bytes) {
      const missing = bytes - simd.memory.buffer.byteLength;
      if (missing > 0) simd.memory.grow(Math.ceil(missing / 65536));
      if (view.buffer !== simd.memory.buffer) view = new Float32Array(simd.memory.buffer);
      return view;
    },
    gemm: simd.gemm,
    transpose: simd.transpose,
  };
}

/** The portable micro-kernel: the same contract in plain JavaScript, 4×4 half-tiles. */
export function jsEngine(): GemmEngine {
  let view = new Float32Array(0);
  return {
    name: 'js',
    heap(bytes) {
      if (view.byteLength < bytes) view = new Float32Array(Math.ceil(bytes / 4));
      return view;
    },
    gemm(pa, pb, c, kc, mPanels, nPanels, ldcBytes, aPanel, aStep, bPanel, bStep) {
      const ldc = ldcBytes >> 2;
      for (let jp = 0; jp < nPanels; jp++) {
        for (let ip = 0; ip < mPanels; ip++) {
          const ao = (pa + ip * aPanel) >> 2;
          const bo = (pb + jp * bPanel) >> 2;
          const co = (c >> 2) + ip * MR * ldc + jp * NR;
          jsTile(view, ao, bo, kc, co, ldc, aStep >> 2, bStep >> 2);
          jsTile(view, ao, bo + 4, kc, co + 4, ldc, aStep >> 2, bStep >> 2);
        }
      }
    },
  };
}

function jsTile(
  h: Float32Array,
  ao: number,
  bo: number,
  kc: number,
  co: number,
  ldc: number,
  aStep: number,
  bStep: number,
): void {
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0,
    c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0;
  let c20 = 0,
    c21 = 0,
    c22 = 0,
    c23 = 0,
    c30 = 0,
    c31 = 0,
    c32 = 0,
    c33 = 0;
  for (let p = 0; p < kc; p++, ao += aStep, bo += bStep) {
    const a0 = h[ao],
      a1 = h[ao + 1],
      a2 = h[ao + 2],
      a3 = h[ao + 3];
    const b0 = h[bo],
      b1 = h[bo + 1],
      b2 = h[bo + 2],
      b3 = h[bo + 3];
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    c30 += a3 * b0;
    c31 += a3 * b1;
    c32 += a3 * b2;
    c33 += a3 * b3;
  }
  h[co] += c00;
  h[co + 1] += c01;
  h[co + 2] += c02;
  h[co + 3] += c03;
  co += ldc;
  h[co] += c10;
  h[co + 1] += c11;
  h[co + 2] += c12;
  h[co + 3] += c13;
  co += ldc;
  h[co] += c20;
  h[co + 1] += c21;
  h[co + 2] += c22;
  h[co + 3] += c23;
  co += ldc;
  h[co] += c30;
  h[co + 1] += c31;
  h[co + 2] += c32;
  h[co + 3] += c33;
}

const simd = simdEngine();
/** The engine `matmul` uses unless told otherwise, and why (for getBackend()). */
export const defaultGemm: GemmEngine = typeof simd === 'string' ? jsEngine() : simd;
export const gemmFallbackReason: string | null = typeof simd === 'string' ? simd : null;

const roundUp = (x: number, to: number) => Math.ceil(x / to) * to;

export function matmul(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  transA = false,
  transB = false,
  out: Float32Array = allocate(m * n),
  engine = defaultGemm,
): Float32Array {
  return matmulRows(a, b, m, k, n, transA, transB, out, 0, m, engine);
}

/**
 * Rows [r0, r1) of op(A) · op(B), into `out` from its start ((r1 - r0) × n values). Every
 * element is the same sum, in the same order, whatever rows are asked for: the k-slabs do
 * not depend on them. So rows split between threads give the single-threaded result, bit
 * for bit (src/backend/threads.ts).
 *
 * Two layouts need no packing, only a copy into the kernel's memory: a transposed A (the
 * MR values of a panel at one k are adjacent in Aᵀ's storage) and a plain B whose columns
 * come in whole panels (NR adjacent values a row). The weight-gradient and forward products
 * of dense layers are these; packing them cost as much as their arithmetic. Read in place,
 * though, each k step jumps a row of the stored matrix, which large matrices pay for in
 * cache and TLB misses: the RAW_* limits are where it stopped paying.
 */
export function matmulRows(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
  out: Float32Array,
  r0: number,
  r1: number,
  engine = defaultGemm,
): Float32Array {
  const rows = r1 - r0;
  if (rows <= 0 || n === 0) return out;
  if (k === 0) return out.fill(0, 0, rows * n);
  const mPad = roundUp(rows, MR);
  const nPad = roundUp(n, NR);
  const kcMax = Math.min(KC, k);
  const rawA = transA && (m < RAW_A_MAX_ROWS || n <= NR * 2),
    rawB = !transB && n === nPad && rows <= RAW_B_MAX_ROWS && n <= RAW_B_MAX_COLS;
  // Packs that are transposes run in the engine from a copy of the operand (copied in whole, once).
  const transposeA = !transA && engine.transpose !== undefined,
    transposeB = transB && engine.transpose !== undefined;
  // Scratch layout, in floats: [A (block or whole) | B (slab or whole) | padded C | copies of A
  // and B to pack from]. A raw Aᵀ is read MR rows at a time past row r1 (into rows of C that
  // are dropped): MR floats of slack.
  const aOff = 0;
  const bOff = rawA ? k * m + MR : Math.min(MC, mPad) * kcMax;
  const cOff = bOff + (rawB ? k * n : kcMax * nPad);
  const aCopy = cOff + mPad * nPad,
    bCopy = aCopy + (transposeA ? rows * k : 0);
  const heap = engine.heap((bCopy + (transposeB ? n * k : 0)) * 4);
  heap.fill(0, cOff, cOff + mPad * nPad);
  if (rawA) heap.set(a.subarray(0, k * m), aOff);
  if (rawB) heap.set(b.subarray(0, k * n), bOff);
  if (transposeA) heap.set(a.subarray(r0 * k, r1 * k), aCopy);
  if (transposeB) heap.set(b.subarray(0, n * k), bCopy);
  const [aStep, bStep] = [rawA ? m * 4 : MR * 4, rawB ? n * 4 : NR * 4];
  for (let pc = 0; pc < k; pc += KC) {
    const kc = Math.min(KC, k - pc);
    if (transposeB) packTransposedB(heap, engine.transpose!, bCopy, k, n, pc, kc, bOff, nPad);
    else if (!rawB) packB(b, k, n, transB, pc, kc, heap, bOff, nPad);
    const pb = rawB ? bOff + pc * n : bOff;
    for (let ic = 0; ic < mPad; ic += MC) {
      const mc = Math.min(MC, mPad - ic);
      if (transposeA) packRowMajorA(heap, engine.transpose!, aCopy, k, rows, ic, mc, pc, kc, aOff);
      else if (!rawA) packA(a, m, r1, k, transA, r0 + ic, mc, pc, kc, heap, aOff);
      const pa = rawA ? aOff + pc * m + r0 + ic : aOff;
      engine.gemm(
        pa * 4,
        pb * 4,
        (cOff + ic * nPad) * 4,
        kc,
        mc / MR,
        nPad / NR,
        nPad * 4,
        rawA ? MR * 4 : kc * MR * 4,
        aStep,
        rawB ? NR * 4 : kc * NR * 4,
        bStep,
      );
    }
  }
  if (n === nPad) {
    out.set(heap.subarray(cOff, cOff + rows * n));
  } else {
    // Row by row, without a subarray per row: narrow outputs (conv filters) have many rows.
    for (let i = 0, o = 0; i < rows; i++) for (let j = 0, h = cOff + i * nPad; j < n; j++) out[o++] = heap[h + j];
  }
  return out;
}

/** Packs rows [ic, ic+mc) × cols [pc, pc+kc) of op(A) (m rows in all) as MR-row panels (rows ≥ end are zero). */
function packA(
  a: Float32Array,
  m: number,
  end: number,
  k: number,
  trans: boolean,
  ic: number,
  mc: number,
  pc: number,
  kc: number,
  dst: Float32Array,
  off: number,
): void {
  const rowStride = trans ? 1 : k; // op(A)[i][p] = trans ? a[p*m + i] : a[i*k + p]
  const colStride = trans ? m : 1;
  const mr = MR; // a local: V8 does not constant-fold imported bindings in hot loops
  for (let ir = 0; ir < mc; ir += mr) {
    if (mr === 4 && ic + ir + mr <= end) {
      // A whole panel: its MR rows side by side in one loop (a loop per row of a short k cost more than the copy).
      let s0 = (ic + ir) * rowStride + pc * colStride;
      const s1 = rowStride,
        s2 = 2 * rowStride,
        s3 = 3 * rowStride;
      for (let p = 0, d = off + ir * kc; p < kc; p++, d += mr, s0 += colStride) {
        dst[d] = a[s0];
        dst[d + 1] = a[s0 + s1];
        dst[d + 2] = a[s0 + s2];
        dst[d + 3] = a[s0 + s3];
      }
      continue;
    }
    for (let r = 0; r < mr; r++) {
      const row = ic + ir + r;
      let d = off + ir * kc + r;
      if (row >= end) {
        for (let p = 0; p < kc; p++, d += mr) dst[d] = 0;
        continue;
      }
      let src = row * rowStride + pc * colStride;
      for (let p = 0; p < kc; p++, d += mr, src += colStride) dst[d] = a[src];
    }
  }
}

/** Packs rows [pc, pc+kc) of op(B) as NR-column panels (columns ≥ n are zero). */
function packB(
  b: Float32Array,
  k: number,
  n: number,
  trans: boolean,
  pc: number,
  kc: number,
  dst: Float32Array,
  off: number,
  nPad: number,
): void {
  const rowStride = trans ? 1 : n; // op(B)[p][j] = trans ? b[j*k + p] : b[p*n + j]
  const colStride = trans ? k : 1;
  const nr = NR;
  for (let jr = 0; jr < nPad; jr += nr) {
    for (let c = 0; c < nr; c++) {
      const col = jr + c;
      let d = off + jr * kc + c;
      if (col >= n) {
        for (let p = 0; p < kc; p++, d += nr) dst[d] = 0;
        continue;
      }
      let src = pc * rowStride + col * colStride;
      for (let p = 0; p < kc; p++, d += nr, src += rowStride) dst[d] = b[src];
    }
  }
}

/**
 * packA's panels for a row-major A from its copy at `copy` in the heap (`rows` rows from r0,
 * `ic` relative to them): a whole panel is the transpose of an MR × kc block, done in the
 * engine 4×4 at a time; the last columns past a multiple of 4 and a ragged last panel here.
 */
function packRowMajorA(
  heap: Float32Array,
  transpose: TransposeKernel,
  copy: number,
  k: number,
  rows: number,
  ic: number,
  mc: number,
  pc: number,
  kc: number,
  off: number,
): void {
  const kc4 = kc & ~3;
  for (let ir = 0; ir < mc; ir += MR) {
    const row = ic + ir,
      panel = off + ir * kc;
    const whole = row + MR <= rows;
    if (whole && kc4 > 0) transpose(4 * (copy + row * k + pc), 4 * panel, MR / 4, kc4 / 4, 4 * k, 4 * MR);
    for (let r = 0; r < MR; r++)
      for (let p = whole ? kc4 : 0; p < kc; p++)
        heap[panel + p * MR + r] = row + r < rows ? heap[copy + (row + r) * k + pc + p] : 0;
  }
}

/** packB's panels for a transposed B (stored [n, k]) from its copy at `copy`, as packRowMajorA does A's. */
function packTransposedB(
  heap: Float32Array,
  transpose: TransposeKernel,
  copy: number,
  k: number,
  n: number,
  pc: number,
  kc: number,
  off: number,
  nPad: number,
): void {
  const kc4 = kc & ~3;
  for (let jr = 0; jr < nPad; jr += NR) {
    const panel = off + jr * kc;
    const whole = jr + NR <= n;
    if (whole && kc4 > 0) transpose(4 * (copy + jr * k + pc), 4 * panel, NR / 4, kc4 / 4, 4 * k, 4 * NR);
    for (let c = 0; c < NR; c++)
      for (let p = whole ? kc4 : 0; p < kc; p++)
        heap[panel + p * NR + c] = jr + c < n ? heap[copy + (jr + c) * k + pc + p] : 0;
  }
}
