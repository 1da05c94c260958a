import { I32, V128, bump, encodeModule, forLoop, nthAddress, op } from './wasm-asm.js';

/**
 * Direct WebAssembly SIMD convolutions for small models' layers (up to 64 output channels),
 * where im2col would copy each input value kH·kW times to feed a matmul too thin to amortize
 * its packing.
 * Both kernels read a zero-padded NHWC input ([batch, Hp, Wp, C]) at stride 1, and keep
 * output channels in f32x4 lanes, 4·V of them (V ≤ 4) a call: a slice of the layer's, whose
 * pixels (and filter taps) lie `stride` bytes apart, so a wide layer runs slice by slice.
 *
 * forward(x, f, bias, out, batch, Hp, Wp, C, kH, kW, outH, outW, relu, stride):
 *   out[b,oy,ox,:] = act(Σ_{ky,kx,c} x[b,oy+ky,ox+kx,c] · f[ky,kx,c,:] + bias), P pixels at a
 *   time (P·V accumulators in registers), taps in filter order.
 * filterGrad{T}(x, dy, df, batch, Hp, Wp, C, kH, kW, outH, outW, stride):
 *   df[ky,kx,c,:] += Σ_{b,oy,ox} x[b,oy+ky,ox+kx,c] · dy[b,oy,ox,:], T consecutive taps at a
 *   time, summed along each output row in registers and then added to df row after row.
 * Every sum runs in one fixed order, whatever the batch, so results are reproducible.
 */
export interface DirectConvKernels {
  readonly outVectors: number;
  forward(
    x: number,
    f: number,
    bias: number,
    out: number,
    batch: number,
    hp: number,
    wp: number,
    c: number,
    kH: number,
    kW: number,
    outH: number,
    outW: number,
    relu: number,
    stride: number,
  ): void;
  /** filterGrad[T] handles T taps at a time (T·V ≤ 8); index 0 is unused. */
  filterGrad: Array<
    (
      x: number,
      dy: number,
      df: number,
      batch: number,
      hp: number,
      wp: number,
      c: number,
      kH: number,
      kW: number,
      outH: number,
      outW: number,
      stride: number,
    ) => void
  >;
}

const ACCUMULATORS = 8;

function forwardFunction(v: number, p: number) {
  const [X, F, BIAS, OUT, BATCH, HP, WP, C, KH, KW, OUTH, OUTW, RELU, STRIDE] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
  ];
  const [B, OY, OX, KY, T, ROW, XP, FP, OP, ROWBYTES, RUN, CB, KYROW] = [
    14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
  ];
  const acc = (px: number, lane: number) => 27 + px * v + lane;
  const fv = (lane: number) => 27 + ACCUMULATORS + lane;
  const A = 27 + ACCUMULATORS + 4,
    ZERO = A + 1;
  const block = (pixels: number): number[][] => {
    const accs = [...Array(pixels).keys()].flatMap((px) => [...Array(v).keys()].map((lane) => [px, lane] as const));
    return [
      ...accs.flatMap(([px, lane]) => [op.get(ZERO), op.set(acc(px, lane))]),
      op.get(F),
      op.set(FP),
      // KYROW = ROW + ox·C·4, then one filter row of kW·C taps per ky.
      op.get(ROW),
      op.get(OX),
      op.get(CB),
      op.mul,
      op.add,
      op.set(KYROW),
      ...forLoop(KY, KH, [
        op.get(KYROW),
        op.set(XP),
        op.get(RUN),
        op.set(T),
        op.loop,
        ...[...Array(v).keys()].flatMap((lane) => [op.get(FP), op.v128Load(16 * lane), op.set(fv(lane))]),
        ...[...Array(pixels).keys()].flatMap((px) => [
          ...nthAddress(XP, CB, px),
          op.load32Splat(0),
          op.set(A),
          ...[...Array(v).keys()].flatMap((lane) => [
            op.get(acc(px, lane)),
            op.get(A),
            op.get(fv(lane)),
            op.f32x4Mul,
            op.f32x4Add,
            op.set(acc(px, lane)),
          ]),
        ]),
        ...bump(XP, [op.i32(4)]),
        ...bump(FP, [op.get(STRIDE)]),
        op.get(T),
        op.i32(1),
        op.sub,
        op.tee(T),
        op.brIf(0),
        op.end,
        ...bump(KYROW, [op.get(ROWBYTES)]),
      ]),
      // The bias after the sum, as a separate bias add would: the same bits fused or not.
      ...accs.flatMap(([px, lane]) => [
        op.get(acc(px, lane)),
        op.get(BIAS),
        op.v128Load(16 * lane),
        op.f32x4Add,
        op.set(acc(px, lane)),
      ]),
      op.get(RELU),
      op.if,
      ...accs.flatMap(([px, lane]) => [op.get(acc(px, lane)), op.get(ZERO), op.f32x4Max, op.set(acc(px, lane))]),
      op.end,
      // Pixel px's output lies px·stride bytes on.
      ...accs.flatMap(([px, lane]) => [...nthAddress(OP, STRIDE, px), op.get(acc(px, lane)), op.v128Store(16 * lane)]),
      ...bump(OP, [op.get(STRIDE), op.i32(pixels), op.mul]),
    ];
  };
  const body = [
    op.get(WP),
    op.get(C),
    op.mul,
    op.i32(4),
    op.mul,
    op.set(ROWBYTES),
    op.get(KW),
    op.get(C),
    op.mul,
    op.set(RUN),
    op.get(C),
    op.i32(4),
    op.mul,
    op.set(CB),
    op.get(OUT),
    op.set(OP),
    op.i32(0),
    op.i32x4Splat,
    op.set(ZERO),
    ...forLoop(
      B,
      BATCH,
      forLoop(OY, OUTH, [
        // ROW = x + (b·Hp + oy)·rowBytes: the first input row under this output row.
        op.get(X),
        op.get(B),
        op.get(HP),
        op.mul,
        op.get(OY),
        op.add,
        op.get(ROWBYTES),
        op.mul,
        op.add,
        op.set(ROW),
        op.i32(0),
        op.set(OX),
        op.block,
        op.loop,
        op.get(OX),
        op.i32(p),
        op.add,
        op.get(OUTW),
        op.gtS,
        op.brIf(1),
        ...block(p),
        ...bump(OX, [op.i32(p)]),
        op.br(0),
        op.end,
        op.end,
        op.block,
        op.loop,
        op.get(OX),
        op.get(OUTW),
        op.geU,
        op.brIf(1),
        ...block(1),
        ...bump(OX, [op.i32(1)]),
        op.br(0),
        op.end,
        op.end,
      ]),
    ),
  ];
  return {
    exportName: 'forward',
    params: Array(14).fill(I32),
    locals: [
      [13, I32],
      [ACCUMULATORS + 4 + 2, V128],
    ] as Array<[number, number]>,
    body,
  };
}

function filterGradFunction(v: number, taps: number) {
  const [X, DY, DF, BATCH, HP, WP, C, KH, KW, OUTH, OUTW, STRIDE] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const [B, OY, OX, KY, T, ROW, XP, DP, DFP, ROWBYTES, RUN, CB, KYROW, DYROW] = [
    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
  ];
  const acc = (tap: number, lane: number) => 26 + tap * v + lane;
  const dv = (lane: number) => 26 + ACCUMULATORS + lane;
  const A = 26 + ACCUMULATORS + 4;
  const accs = [...Array(taps).keys()].flatMap((tap) => [...Array(v).keys()].map((lane) => [tap, lane] as const));
  const tapBlock = [
    ...accs.flatMap(([tap, lane]) => [op.i32(0), op.i32x4Splat, op.set(acc(tap, lane))]),
    op.get(KYROW),
    op.get(T),
    op.i32(4),
    op.mul,
    op.add,
    op.set(XP),
    op.get(DYROW),
    op.set(DP),
    ...forLoop(OX, OUTW, [
      ...[...Array(v).keys()].flatMap((lane) => [op.get(DP), op.v128Load(16 * lane), op.set(dv(lane))]),
      ...[...Array(taps).keys()].flatMap((tap) => [
        op.get(XP),
        op.load32Splat(4 * tap),
        op.set(A),
        ...[...Array(v).keys()].flatMap((lane) => [
          op.get(acc(tap, lane)),
          op.get(A),
          op.get(dv(lane)),
          op.f32x4Mul,
          op.f32x4Add,
          op.set(acc(tap, lane)),
        ]),
      ]),
      ...bump(XP, [op.get(CB)]),
      ...bump(DP, [op.get(STRIDE)]),
    ]),
    // Tap t's filter row lies t·stride bytes on.
    ...accs.flatMap(([tap, lane]) => [
      ...nthAddress(DFP, STRIDE, tap),
      ...nthAddress(DFP, STRIDE, tap),
      op.v128Load(16 * lane),
      op.get(acc(tap, lane)),
      op.f32x4Add,
      op.v128Store(16 * lane),
    ]),
    ...bump(DFP, [op.get(STRIDE), op.i32(taps), op.mul]),
  ];
  const body = [
    op.get(WP),
    op.get(C),
    op.mul,
    op.i32(4),
    op.mul,
    op.set(ROWBYTES),
    op.get(KW),
    op.get(C),
    op.mul,
    op.set(RUN),
    op.get(C),
    op.i32(4),
    op.mul,
    op.set(CB),
    op.get(DY),
    op.set(DYROW),
    ...forLoop(
      B,
      BATCH,
      forLoop(OY, OUTH, [
        op.get(X),
        op.get(B),
        op.get(HP),
        op.mul,
        op.get(OY),
        op.add,
        op.get(ROWBYTES),
        op.mul,
        op.add,
        op.set(ROW),
        op.get(ROW),
        op.set(KYROW),
        op.get(DF),
        op.set(DFP),
        ...forLoop(KY, KH, [
          // T walks this filter row's kW·C taps, `taps` at a time (the caller picks a divisor).
          op.i32(0),
          op.set(T),
          op.block,
          op.loop,
          op.get(T),
          op.get(RUN),
          op.geU,
          op.brIf(1),
          ...tapBlock,
          ...bump(T, [op.i32(taps)]),
          op.br(0),
          op.end,
          op.end,
          ...bump(KYROW, [op.get(ROWBYTES)]),
        ]),
        ...bump(DYROW, [op.get(OUTW), op.get(STRIDE), op.mul]),
      ]),
    ),
  ];
  return {
    exportName: `filterGrad${taps}`,
    params: Array(12).fill(I32),
    locals: [
      [14, I32],
      [ACCUMULATORS + 4 + 1, V128],
    ] as Array<[number, number]>,
    body,
  };
}

/** Pixels per forward block for V output vectors: as many as keep P·V accumulators in registers. */
export const pixelsPerBlock = (v: number) => Math.floor(ACCUMULATORS / v);

let memory: WebAssembly.Memory | null = null;
const modules = new Map<number, DirectConvKernels>();

/** The memory every direct kernel addresses, grown to at least `bytes`, as a float view. */
export function directConvHeap(bytes: number): Float32Array {
  memory ??= new WebAssembly.Memory({ initial: 16 });
  const missing = bytes - memory.buffer.byteLength;
  if (missing > 0) memory.grow(Math.ceil(missing / 65536));
  return new Float32Array(memory.buffer);
}

/** The kernels for outC = 4·V (V = 1..4), compiled on first use; null where WebAssembly SIMD is missing. */
export function directConvKernels(v: number): DirectConvKernels | null {
  let kernels = modules.get(v);
  if (kernels !== undefined) return kernels;
  if (typeof WebAssembly === 'undefined') return null;
  const p = pixelsPerBlock(v);
  const tapCounts = [...Array(p).keys()].map((i) => i + 1);
  const bytes = encodeModule([forwardFunction(v, p), ...tapCounts.map((t) => filterGradFunction(v, t))]);
  if (!WebAssembly.validate(bytes)) return null;
  directConvHeap(0);
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: memory! } }).exports;
  kernels = {
    outVectors: v,
    forward: exports.forward as DirectConvKernels['forward'],
    filterGrad: [
      () => {},
      ...tapCounts.map((t) => exports[`filterGrad${t}`] as DirectConvKernels['filterGrad'][number]),
    ],
  };
  modules.set(v, kernels);
  return kernels;
}
