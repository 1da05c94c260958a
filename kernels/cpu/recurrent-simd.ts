import { allocate, allocateZeroed, copyOut } from '../buffers.js';
import type { Recurrence, RecurrenceInfo } from '../types.js';
import { type GemmKernel, MR, NR, type TransposeKernel, loadSimdGemm } from './gemm-simd.js';
import type { Matmul } from './conv2d.js';
import { sigmoidOf, tanhOf } from './simd-math.js';
import { I32, V128, compileModule, encodeModule, op } from './wasm-asm.js';
import { growMemory, regions } from './wasm-memory.js';

/**
 * The LSTM and GRU recurrences (kernels/cpu/recurrent.ts states the math) in WebAssembly SIMD,
 * every step inside one memory: the recurrent matmul of a step (the matmul's micro-kernel,
 * instantiated on this memory) accumulates straight into that step's gate buffer, one SIMD
 * pass applies the nonlinearities and updates the state, and backpropagation through time
 * runs the same way backwards over the saved gates. The recurrent kernel's gradient is one
 * matmul over all steps at the end, not a small one a step.
 *
 * Everything lives transposed, [units or gates][batch] with the batch padded to the
 * micro-kernel's 8 columns, so that no step packs anything: hₜᵀ is the matmul's B operand as
 * stored, U its A operand packed once per pass, and a gate pass walks contiguous vectors.
 * Padded columns start at zero and never mix with real ones (a matmul column depends only on
 * the same column), and their gradients are zero.
 *
 * The saved state of one recurrence stays in the memory between its forward and backward
 * pass; a second recurrence (stacked layers) moves the first's to JavaScript buffers and
 * its backward pass moves it back.
 */
/** Loads and stores of a gate pass, at the current vector Q of an array (or of its `block`-th gate block). */
interface PassBuilder {
  /** The v128 at `base` (+ `block` gate blocks) + Q. */
  load(base: number, block?: number): number[][];
  store(base: number, value: number[][], block?: number): number[][];
}

/** A pass over `end` bytes, 16 at a time: params (…addresses, gateBytes, end), then i32 Q and v128 scratch. */
function pass(
  exportName: string,
  addresses: number,
  vectors: number,
  body: (b: PassBuilder, v: (i: number) => number) => number[][],
) {
  // Locals: the params (addresses, GATE', END'), then Q, then the vectors.
  const gateParam = addresses,
    endParam = addresses + 1,
    q = addresses + 2;
  const vec = (i: number) => q + 1 + i;
  const at = (base: number, block = 0) => [
    op.get(base),
    ...(block === 0 ? [] : [op.get(gateParam), op.i32(block), op.mul, op.add]),
    op.get(q),
    op.add,
  ];
  const builder: PassBuilder = {
    load: (base, block = 0) => [...at(base, block), op.v128Load(0)],
    store: (base, value, block = 0) => [...at(base, block), ...value, op.v128Store(0)],
  };
  return {
    exportName,
    params: Array(addresses + 2).fill(I32),
    locals: [
      [1, I32],
      [vectors, V128],
    ] as Array<[number, number]>,
    body: [
      op.i32(0),
      op.set(q),
      op.block,
      op.loop,
      op.get(q),
      op.get(endParam),
      op.geU,
      op.brIf(1),
      ...body(builder, vec),
      op.get(q),
      op.i32(16),
      op.add,
      op.set(q),
      op.br(0),
      op.end,
      op.end,
    ],
  };
}
const mul = (...xs: number[][][]): number[][] => xs.slice(1).reduce((a, x) => [...a, ...x, op.f32x4Mul], xs[0]);
const add = (a: number[][], b: number[][]): number[][] => [...a, ...b, op.f32x4Add];
const sub = (a: number[][], b: number[][]): number[][] => [...a, ...b, op.f32x4Sub];
const one: number[][] = [op.f32x4Const(1)];
const get = (l: number): number[][] => [op.get(l)];
const set = (l: number, value: number[][]): number[][] => [...value, op.set(l)];
/** 1 − x·x and x·(1 − x) of a local. */
const oneMinusSquare = (l: number) => sub(one, mul(get(l), get(l)));
const sigmoidSlope = (l: number) => mul(get(l), sub(one, get(l)));

function buildModule(): Uint8Array<ArrayBuffer> {
  // lstmGates(z, cPrev, cNext, tanhC, hNext, gateBytes, end): z's four blocks activated in place.
  const lstmGates = pass('lstmGates', 5, 10, (b, v) => {
    const [Z, CP, CN, TC, HN] = [0, 1, 2, 3, 4];
    const [I, F, G, O, C, X, A, S, T, N] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(v);
    return [
      ...set(X, b.load(Z, 0)),
      ...set(I, sigmoidOf(X, T, N)),
      ...b.store(Z, get(I), 0),
      ...set(X, b.load(Z, 1)),
      ...set(F, sigmoidOf(X, T, N)),
      ...b.store(Z, get(F), 1),
      ...set(X, b.load(Z, 2)),
      ...set(G, tanhOf(X, A, S, T, N)),
      ...b.store(Z, get(G), 2),
      ...set(X, b.load(Z, 3)),
      ...set(O, sigmoidOf(X, T, N)),
      ...b.store(Z, get(O), 3),
      ...set(C, add(mul(get(F), b.load(CP)), mul(get(I), get(G)))),
      ...b.store(CN, get(C)),
      ...set(X, tanhOf(C, A, S, T, N)),
      ...b.store(TC, get(X)),
      ...b.store(HN, mul(get(O), get(X))),
    ];
  });
  // lstmGatesGrad(gates, cPrev, tanhC, dOut, dh, dc, gateBytes, end): the gates become dz in place; dh is zeroed for the next matmul.
  const lstmGatesGrad = pass('lstmGatesGrad', 6, 7, (b, v) => {
    const [GZ, CP, TC, DOUT, DH, DC] = [0, 1, 2, 3, 4, 5];
    const [I, F, G, O, D, X, C] = [0, 1, 2, 3, 4, 5, 6].map(v);
    return [
      ...set(D, add(b.load(DH), b.load(DOUT))),
      ...b.store(DH, [op.i32(0), op.i32x4Splat]),
      ...set(I, b.load(GZ, 0)),
      ...set(F, b.load(GZ, 1)),
      ...set(G, b.load(GZ, 2)),
      ...set(O, b.load(GZ, 3)),
      ...set(X, b.load(TC)),
      ...set(C, add(mul(get(D), get(O), oneMinusSquare(X)), b.load(DC))),
      ...b.store(DC, mul(get(C), get(F))),
      ...b.store(GZ, mul(get(C), get(G), sigmoidSlope(I)), 0),
      ...b.store(GZ, mul(get(C), b.load(CP), sigmoidSlope(F)), 1),
      ...b.store(GZ, mul(get(C), get(I), oneMinusSquare(G)), 2),
      ...b.store(GZ, mul(get(D), get(X), sigmoidSlope(O)), 3),
    ];
  });
  // gruGates(a, p, hPrev, hNext, saved, gateBytes, end): saved gets z, r, n and a_n.
  const gruGates = pass('gruGates', 5, 9, (b, v) => {
    const [AR, P, HP, HN, SV] = [0, 1, 2, 3, 4];
    const [Z, R, AN, X, NN, A, S, T, N] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map(v);
    return [
      ...set(X, add(b.load(P, 0), b.load(AR, 0))),
      ...set(Z, sigmoidOf(X, T, N)),
      ...set(X, add(b.load(P, 1), b.load(AR, 1))),
      ...set(R, sigmoidOf(X, T, N)),
      ...set(AN, b.load(AR, 2)),
      ...set(X, add(b.load(P, 2), mul(get(R), get(AN)))),
      ...set(NN, tanhOf(X, A, S, T, N)),
      ...b.store(SV, get(Z), 0),
      ...b.store(SV, get(R), 1),
      ...b.store(SV, get(NN), 2),
      ...b.store(SV, get(AN), 3),
      ...b.store(HN, add(mul(get(Z), b.load(HP)), mul(sub(one, get(Z)), get(NN)))),
    ];
  });
  // gruGatesGrad(saved, hPrev, dOut, dh, da, dp, gateBytes, end): dh becomes dh·z, the direct path, for the matmul to add to.
  const gruGatesGrad = pass('gruGatesGrad', 6, 9, (b, v) => {
    const [SV, HP, DOUT, DH, DA, DP] = [0, 1, 2, 3, 4, 5];
    const [Z, R, NN, AN, D, DN, DZ, DR] = [0, 1, 2, 3, 4, 5, 6, 7].map(v);
    return [
      ...set(D, add(b.load(DH), b.load(DOUT))),
      ...set(Z, b.load(SV, 0)),
      ...set(R, b.load(SV, 1)),
      ...set(NN, b.load(SV, 2)),
      ...set(AN, b.load(SV, 3)),
      ...set(DN, mul(get(D), sub(one, get(Z)), oneMinusSquare(NN))),
      ...set(DZ, mul(get(D), sub(b.load(HP), get(NN)), sigmoidSlope(Z))),
      ...set(DR, mul(get(DN), get(AN), sigmoidSlope(R))),
      ...b.store(DA, get(DZ), 0),
      ...b.store(DA, get(DR), 1),
      ...b.store(DA, mul(get(DN), get(R)), 2),
      ...b.store(DP, get(DZ), 0),
      ...b.store(DP, get(DR), 1),
      ...b.store(DP, get(DN), 2),
      ...b.store(DH, mul(get(D), get(Z))),
    ];
  });
  return encodeModule([lstmGates, lstmGatesGrad, gruGates, gruGatesGrad]);
}

type Pass = (...addressesThenGateBytesThenEnd: number[]) => void;

interface Kernel {
  memory: WebAssembly.Memory;
  gemm: GemmKernel;
  lstmGates: Pass;
  lstmGatesGrad: Pass;
  gruGates: Pass;
  gruGatesGrad: Pass;
  transpose: TransposeKernel;
}

let kernel: Kernel | null | undefined;

function load(): Kernel | null {
  const module = compileModule(buildModule());
  if (module === null) return null;
  const memory = new WebAssembly.Memory({ initial: 16 });
  const gemm = loadSimdGemm(memory);
  if (typeof gemm === 'string') return null;
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const fn = (name: string) => exports[name] as Pass;
  return {
    memory,
    gemm: gemm.gemm,
    lstmGates: fn('lstmGates'),
    lstmGatesGrad: fn('lstmGatesGrad'),
    gruGates: fn('gruGates'),
    gruGatesGrad: fn('gruGatesGrad'),
    transpose: gemm.transpose,
  };
}

/** The memory as floats, at least `floats` long. */
function heapOf(k: Kernel, floats: number): Float32Array {
  growMemory(k.memory, 4 * floats);
  return new Float32Array(k.memory.buffer);
}

/** A recurrence whose saved state may be in the memory: the one there now, if any. */
interface Tenant {
  /** Copies the saved state out: the memory is someone else's next. */
  evict(): void;
}
let tenant: Tenant | null = null;

/** Makes the memory this recurrence's: the previous tenant's state moves out. */
function claim(next: Tenant | null): void {
  if (tenant !== null && tenant !== next) tenant.evict();
  tenant = next;
}

const roundUp = (x: number, to: number) => Math.ceil(x / to) * to;

/** The rows × cols matrix at `from` (floats, row stride `fromStride`) transposed to `to`: whole 4×4 blocks in SIMD, the ragged edge here. */
function transpose(
  k: Kernel,
  heap: Float32Array,
  from: number,
  to: number,
  rows: number,
  cols: number,
  fromStride: number,
  toStride: number,
) {
  const r4 = rows & ~3,
    c4 = cols & ~3;
  if (r4 > 0 && c4 > 0) k.transpose(4 * from, 4 * to, r4 / 4, c4 / 4, 4 * fromStride, 4 * toStride);
  for (let i = 0; i < rows; i++)
    for (let j = i < r4 ? c4 : 0; j < cols; j++) heap[to + j * toStride + i] = heap[from + i * fromStride + j];
}

/** `src` [batch, time, width], through the staging area, into [time][rowStride][bp] at `dst` (padded columns zero). */
function toStepMajor(
  k: Kernel,
  heap: Float32Array,
  src: Float32Array,
  stage: number,
  dst: number,
  info: RecurrenceInfo,
  width: number,
  rowStride: number,
  bp: number,
) {
  const { batch, time } = info;
  heap.set(src, stage);
  if (bp !== batch) heap.fill(0, dst, dst + time * rowStride * bp);
  for (let t = 0; t < time; t++)
    transpose(k, heap, stage + t * width, dst + t * rowStride * bp, batch, width, time * width, bp);
}

/** [time][rowStride][bp] at `src` back to rows [batch, time, width], through the staging area. */
function toBatchMajor(
  k: Kernel,
  heap: Float32Array,
  src: number,
  stage: number,
  info: RecurrenceInfo,
  time: number,
  width: number,
  rowStride: number,
  bp: number,
): Float32Array {
  const { batch } = info;
  for (let t = 0; t < time; t++)
    transpose(k, heap, src + t * rowStride * bp, stage + t * width, width, batch, bp, time * width);
  return copyOut(heap, stage, batch * time * width);
}

/** The output from h₁ … h_T ([time][u][bp] at `h1`): every step [batch, time, u] or the last [batch, u]. */
function outputsOf(
  k: Kernel,
  heap: Float32Array,
  h1: number,
  stage: number,
  info: RecurrenceInfo,
  bp: number,
): Float32Array {
  const { time, units: u, sequences } = info;
  if (sequences) return toBatchMajor(k, heap, h1, stage, info, time, u, u, bp);
  return toBatchMajor(k, heap, h1 + (time - 1) * u * bp, stage, info, 1, u, u, bp);
}

/** The upstream gradient as [time][u][bp] (zeros where a step has none). */
function gradToStepMajor(
  k: Kernel,
  heap: Float32Array,
  dOut: Float32Array,
  stage: number,
  at: number,
  info: RecurrenceInfo,
  bp: number,
) {
  const { time, units: u, sequences } = info;
  if (sequences) return toStepMajor(k, heap, dOut, stage, at, info, u, u, bp);
  heap.fill(0, at, at + time * u * bp);
  toStepMajor(k, heap, dOut, stage, at + (time - 1) * u * bp, { ...info, time: 1 }, u, u, bp);
}

/**
 * U [u, width] packed as the micro-kernel's A panels (MR rows side by side a step), once per
 * pass for every step: `byGates` for the forward matmul (rows: the gates, steps: the units),
 * else for the backward one (rows: the units, steps: the gates); rows past the matrix zero.
 */
function packRecurrent(
  heap: Float32Array,
  at: number,
  recurrent: Float32Array,
  u: number,
  width: number,
  byGates: boolean,
) {
  const [rows, steps] = byGates ? [width, u] : [u, width];
  const panels = Math.ceil(rows / MR);
  for (let ip = 0; ip < panels; ip++)
    for (let p = 0; p < steps; p++)
      for (let l = 0, d = at + (ip * steps + p) * MR; l < MR; l++) {
        const row = ip * MR + l;
        heap[d + l] = row >= rows ? 0 : byGates ? recurrent[p * width + row] : recurrent[row * width + p];
      }
}

/**
 * One step's C [rows][bp] += A·B (byte addresses): A as packRecurrent lays it out (rows/MR
 * panels of kc steps), B [kc][bp] as stored.
 */
function stepMatmul(k: Kernel, a: number, b: number, c: number, kc: number, rows: number, bp: number): void {
  k.gemm(a, b, c, kc, rows / MR, bp / NR, 4 * bp, 4 * MR * kc, 4 * MR, 4 * NR, 4 * bp);
}

/** The saved regions [from, to) as a tenant: moved out on eviction, back before backward. */
function savedState(k: Kernel, from: number, to: number) {
  let copy: Float32Array | null = null;
  const self: Tenant & { restore(heap: Float32Array): void } = {
    evict() {
      copy = allocate(to - from);
      copy.set(new Float32Array(k.memory.buffer, from * 4, to - from));
    },
    restore(heap) {
      if (tenant === self) {
        tenant = null;
        return;
      }
      claim(null);
      if (copy !== null) heap.set(copy, from);
    },
  };
  return self;
}

/** The recurrence's usable shapes: the JavaScript loops take the degenerate ones. */
const usable = ({ batch, time, units }: RecurrenceInfo) => batch > 0 && time > 0 && units > 0;

export function lstmSimd(
  p: Float32Array,
  recurrent: Float32Array,
  info: RecurrenceInfo,
  mm: Matmul,
): Recurrence | null {
  kernel ??= load();
  const k = kernel;
  if (k === null || !usable(info)) return null;
  const { batch, time, units: u } = info;
  const w = 4 * u,
    bp = roundUp(batch, NR),
    uPad = roundUp(u, MR),
    s = u * bp; // one gate block
  const at = regions(
    {
      u: u * w,
      ut: w * uPad,
      dh: uPad * bp,
      dc: s,
      dOut: time * s,
      z: time * w * bp,
      c: (time + 1) * s,
      tanhC: time * s,
      h: (time + 1) * s,
      stage: batch * time * w,
      stageH: batch * time * u,
    },
    4,
  );
  claim(null);
  let heap = heapOf(k, at.end);
  packRecurrent(heap, at.u, recurrent, u, w, true);
  toStepMajor(k, heap, p, at.stage, at.z, info, w, w, bp);
  heap.fill(0, at.c, at.c + s);
  heap.fill(0, at.h, at.h + s);
  for (let t = 0; t < time; t++) {
    const z = 4 * (at.z + t * w * bp);
    stepMatmul(k, 4 * at.u, 4 * (at.h + t * s), z, u, w, bp);
    k.lstmGates(
      z,
      4 * (at.c + t * s),
      4 * (at.c + (t + 1) * s),
      4 * (at.tanhC + t * s),
      4 * (at.h + (t + 1) * s),
      4 * s,
      4 * s,
    );
  }
  const out = outputsOf(k, heap, at.h + s, at.stageH, info, bp);
  const state = savedState(k, at.z, at.h + (time + 1) * s);
  if (info.training) claim(state);
  const backward = (dOut: Float32Array) => {
    heap = heapOf(k, at.end);
    state.restore(heap);
    packRecurrent(heap, at.ut, recurrent, u, w, false);
    gradToStepMajor(k, heap, dOut, at.stageH, at.dOut, info, bp);
    heap.fill(0, at.dh, at.dc + s);
    for (let t = time - 1; t >= 0; t--) {
      const dz = 4 * (at.z + t * w * bp);
      k.lstmGatesGrad(
        dz,
        4 * (at.c + t * s),
        4 * (at.tanhC + t * s),
        4 * (at.dOut + t * s),
        4 * at.dh,
        4 * at.dc,
        4 * s,
        4 * s,
      );
      stepMatmul(k, 4 * at.ut, dz, 4 * at.dh, w, uPad, bp);
    }
    const dP = toBatchMajor(k, heap, at.z, at.stage, info, time, w, w, bp);
    // dU = Σₜ hₜ₋₁ᵀ·dzₜ: one matmul over every (row, step), h₀ … h_{T−1} in dP's row order.
    const hPrev = toBatchMajor(k, heap, at.h, at.stageH, info, time, u, u, bp);
    return { dProjections: dP, dRecurrent: mm(hPrev, dP, u, batch * time, w, true, false), dBias: null };
  };
  return { out, backward };
}

export function gruSimd(
  p: Float32Array,
  recurrent: Float32Array,
  recurrentBias: Float32Array | null,
  info: RecurrenceInfo,
  mm: Matmul,
): Recurrence | null {
  kernel ??= load();
  const k = kernel;
  if (k === null || !usable(info)) return null;
  const { batch, time, units: u } = info;
  const w = 3 * u,
    wPad = roundUp(w, MR),
    bp = roundUp(batch, NR),
    uPad = roundUp(u, MR),
    s = u * bp;
  const at = regions(
    {
      u: u * wPad,
      ut: w * uPad,
      biasRows: wPad * bp,
      a: wPad * bp,
      dh: uPad * bp,
      dOut: time * s,
      p: time * wPad * bp,
      saved: time * 4 * s,
      h: (time + 1) * s,
      da: time * wPad * bp,
      stage: batch * time * w,
      stageH: batch * time * u,
    },
    4,
  );
  claim(null);
  let heap = heapOf(k, at.end);
  packRecurrent(heap, at.u, recurrent, u, w, true);
  for (let g = 0; g < wPad; g++)
    heap.fill(recurrentBias && g < w ? recurrentBias[g] : 0, at.biasRows + g * bp, at.biasRows + (g + 1) * bp);
  toStepMajor(k, heap, p, at.stage, at.p, info, w, wPad, bp);
  heap.fill(0, at.h, at.h + s);
  for (let t = 0; t < time; t++) {
    heap.copyWithin(at.a, at.biasRows, at.biasRows + wPad * bp);
    stepMatmul(k, 4 * at.u, 4 * (at.h + t * s), 4 * at.a, u, wPad, bp);
    k.gruGates(
      4 * at.a,
      4 * (at.p + t * wPad * bp),
      4 * (at.h + t * s),
      4 * (at.h + (t + 1) * s),
      4 * (at.saved + t * 4 * s),
      4 * s,
      4 * s,
    );
  }
  const out = outputsOf(k, heap, at.h + s, at.stageH, info, bp);
  const state = savedState(k, at.p, at.da);
  if (info.training) claim(state);
  const backward = (dOut: Float32Array) => {
    heap = heapOf(k, at.end);
    state.restore(heap);
    packRecurrent(heap, at.ut, recurrent, u, w, false);
    gradToStepMajor(k, heap, dOut, at.stageH, at.dOut, info, bp);
    heap.fill(0, at.dh, at.dh + uPad * bp);
    for (let t = time - 1; t >= 0; t--) {
      const da = 4 * (at.da + t * wPad * bp);
      k.gruGatesGrad(
        4 * (at.saved + t * 4 * s),
        4 * (at.h + t * s),
        4 * (at.dOut + t * s),
        4 * at.dh,
        da,
        4 * (at.p + t * wPad * bp),
        4 * s,
        4 * s,
      );
      stepMatmul(k, 4 * at.ut, da, 4 * at.dh, w, uPad, bp);
    }
    const dP = toBatchMajor(k, heap, at.p, at.stage, info, time, w, wPad, bp);
    const da = toBatchMajor(k, heap, at.da, at.stage, info, time, w, wPad, bp);
    const hPrev = toBatchMajor(k, heap, at.h, at.stageH, info, time, u, u, bp);
    let dBias: Float32Array | null = null;
    if (recurrentBias) {
      dBias = allocateZeroed(w);
      for (let row = 0; row < batch * time; row++) for (let g = 0; g < w; g++) dBias[g] += da[row * w + g];
    }
    return { dProjections: dP, dRecurrent: mm(hPrev, da, u, batch * time, w, true, false), dBias };
  };
  return { out, backward };
}
