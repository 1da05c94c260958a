import { I32, V128, type WasmFunction, encodeModule, forLoop, nthAddress, op } from './wasm-asm.js';

/**
 * The WebAssembly SIMD micro-kernel of the CPU matmul, generated at load time.
 *
 * gemm(pa, pb, c, kc, mPanels, nPanels, ldcBytes, aPanel, aStep, bPanel, bStep) adds
 * op(A)·op(B) for one block into C (all byte addresses in the module's memory). A comes as
 * mPanels panels of MR rows: panel i starts at pa + i·aPanel, its MR values for step p lie
 * side by side at + p·aStep. B comes as nPanels panels of NR = 8 columns: panel j at
 * pb + j·bPanel, its 8 values for step p at + p·bStep. Packed panels have aStep = MR·4 and
 * bStep = NR·4; a transposed A or a plain row-major B is already laid out so, with the
 * matrix's row length as the step, and needs no packing. Each MR×8 tile of C lives in 2·MR
 * f32x4 registers for the whole k loop.
 */
export const MR = 4;
export const NR = 8;

export type GemmKernel = (
  pa: number,
  pb: number,
  c: number,
  kc: number,
  mPanels: number,
  nPanels: number,
  ldcBytes: number,
  aPanel: number,
  aStep: number,
  bPanel: number,
  bStep: number,
) => void;

/** i8x16.shuffle lanes picking four f32 lanes of the pair (0–3: the first operand, 4–7: the second). */
const lanes = (...fs: number[]) => op.i8x16Shuffle(fs.flatMap((f) => [4 * f, 4 * f + 1, 4 * f + 2, 4 * f + 3]));

/**
 * transpose(src, dst, rowBlocks, colBlocks, srcStride, dstStride): the 4·rowBlocks × 4·colBlocks
 * matrix at src (row stride in bytes) into dst transposed, a 4×4 block at a time in registers.
 */
function transposeFunction(): WasmFunction {
  const [SRC, DST, RB, CB, SS, DS, I, J, PS, PD] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [A, B, C, D, T0, T1, T2, T3] = [10, 11, 12, 13, 14, 15, 16, 17];
  const row = (ptr: number, stride: number, q: number) => [
    op.get(ptr),
    ...(q === 0 ? [] : [op.get(stride), op.i32(q), op.mul, op.add]),
  ];
  return {
    exportName: 'transpose',
    params: Array(6).fill(I32),
    locals: [
      [4, I32],
      [8, V128],
    ] as Array<[number, number]>,
    body: forLoop(I, RB, [
      ...forLoop(J, CB, [
        // PS = src + 4i·srcStride + 16j, PD = dst + 4j·dstStride + 16i
        op.get(SRC),
        op.get(I),
        op.i32(2),
        op.shl,
        op.get(SS),
        op.mul,
        op.add,
        op.get(J),
        op.i32(4),
        op.shl,
        op.add,
        op.set(PS),
        op.get(DST),
        op.get(J),
        op.i32(2),
        op.shl,
        op.get(DS),
        op.mul,
        op.add,
        op.get(I),
        op.i32(4),
        op.shl,
        op.add,
        op.set(PD),
        ...[A, B, C, D].flatMap((v, q) => [...row(PS, SS, q), op.v128Load(0), op.set(v)]),
        ...[
          [T0, A, B, [0, 4, 1, 5]],
          [T1, A, B, [2, 6, 3, 7]],
          [T2, C, D, [0, 4, 1, 5]],
          [T3, C, D, [2, 6, 3, 7]],
        ].flatMap(([t, x, y, l]) => [
          op.get(x as number),
          op.get(y as number),
          lanes(...(l as number[])),
          op.set(t as number),
        ]),
        ...[
          [T0, T2, [0, 1, 4, 5]],
          [T0, T2, [2, 3, 6, 7]],
          [T1, T3, [0, 1, 4, 5]],
          [T1, T3, [2, 3, 6, 7]],
        ].flatMap(([x, y, l], q) => [
          ...row(PD, DS, q),
          op.get(x as number),
          op.get(y as number),
          lanes(...(l as number[])),
          op.v128Store(0),
        ]),
      ]),
    ]),
  };
}

function buildKernelModule(): Uint8Array<ArrayBuffer> {
  const [PA, PB, C, KC, MP, NP, LDC, APANEL, ASTEP, BPANEL, BSTEP, JP, IP, P, PTA, PTB, PTC] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
  ];
  const acc = (row: number, half: number) => 17 + 2 * row + half;
  const B0 = 17 + 2 * MR,
    B1 = B0 + 1,
    A = B0 + 2;
  const rows = [...Array(MR).keys()];
  // Address of C row r of the current tile: ptrC + r*ldc.
  const rowAddress = (r: number) => nthAddress(PTC, LDC, r);
  const body = [
    op.i32(0),
    op.set(JP),
    op.block,
    op.loop,
    op.get(JP),
    op.get(NP),
    op.geU,
    op.brIf(1),
    op.i32(0),
    op.set(IP),
    op.block,
    op.loop,
    op.get(IP),
    op.get(MP),
    op.geU,
    op.brIf(1),
    // ptrC = c + ip*MR*ldc + jp*NR*4
    op.get(C),
    op.get(IP),
    op.i32(MR),
    op.mul,
    op.get(LDC),
    op.mul,
    op.add,
    op.get(JP),
    op.i32(5),
    op.shl,
    op.add,
    op.set(PTC),
    ...rows.flatMap((r) => [
      ...rowAddress(r),
      op.v128Load(0),
      op.set(acc(r, 0)),
      ...rowAddress(r),
      op.v128Load(16),
      op.set(acc(r, 1)),
    ]),
    op.get(PA),
    op.get(IP),
    op.get(APANEL),
    op.mul,
    op.add,
    op.set(PTA),
    op.get(PB),
    op.get(JP),
    op.get(BPANEL),
    op.mul,
    op.add,
    op.set(PTB),
    op.get(KC),
    op.set(P),
    op.loop,
    op.get(PTB),
    op.v128Load(0),
    op.set(B0),
    op.get(PTB),
    op.v128Load(16),
    op.set(B1),
    ...rows.flatMap((r) => [
      op.get(PTA),
      op.load32Splat(4 * r),
      op.set(A),
      op.get(acc(r, 0)),
      op.get(A),
      op.get(B0),
      op.f32x4Mul,
      op.f32x4Add,
      op.set(acc(r, 0)),
      op.get(acc(r, 1)),
      op.get(A),
      op.get(B1),
      op.f32x4Mul,
      op.f32x4Add,
      op.set(acc(r, 1)),
    ]),
    op.get(PTA),
    op.get(ASTEP),
    op.add,
    op.set(PTA),
    op.get(PTB),
    op.get(BSTEP),
    op.add,
    op.set(PTB),
    op.get(P),
    op.i32(1),
    op.sub,
    op.tee(P),
    op.brIf(0),
    op.end,
    ...rows.flatMap((r) => [
      ...rowAddress(r),
      op.get(acc(r, 0)),
      op.v128Store(0),
      ...rowAddress(r),
      op.get(acc(r, 1)),
      op.v128Store(16),
    ]),
    op.get(IP),
    op.i32(1),
    op.add,
    op.set(IP),
    op.br(0),
    op.end,
    op.end,
    op.get(JP),
    op.i32(1),
    op.add,
    op.set(JP),
    op.br(0),
    op.end,
    op.end,
  ];
  return encodeModule([
    {
      exportName: 'gemm',
      params: Array(11).fill(I32),
      locals: [
        [6, I32],
        [2 * MR + 3, V128],
      ],
      body,
    },
    transposeFunction(),
  ]);
}

/** transpose(src, dst, rowBlocks, colBlocks, srcStride, dstStride): byte addresses and strides. */
export type TransposeKernel = (
  src: number,
  dst: number,
  rowBlocks: number,
  colBlocks: number,
  srcStride: number,
  dstStride: number,
) => void;

export interface SimdGemm {
  memory: WebAssembly.Memory;
  gemm: GemmKernel;
  /** Data movement for packing: 4×4 blocks transposed in registers (packs and layouts). */
  transpose: TransposeKernel;
}

/**
 * Instantiates the kernel on `memory` (a memory of its own by default), or returns the
 * reason it cannot run here (no WebAssembly SIMD).
 */
export function loadSimdGemm(memory?: WebAssembly.Memory): SimdGemm | string {
  if (typeof WebAssembly === 'undefined') return 'WebAssembly is not available';
  const bytes = buildKernelModule();
  if (!WebAssembly.validate(bytes)) return 'WebAssembly SIMD is not supported by this runtime';
  memory ??= new WebAssembly.Memory({ initial: 16 });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  return {
    memory,
    gemm: instance.exports.gemm as GemmKernel,
    transpose: instance.exports.transpose as TransposeKernel,
  };
}
