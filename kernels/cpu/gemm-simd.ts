import { I32, V128, encodeModule, nthAddress, op } from './wasm-asm.js';

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
  ]);
}

export interface SimdGemm {
  memory: WebAssembly.Memory;
  gemm: GemmKernel;
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
  return { memory, gemm: instance.exports.gemm as GemmKernel };
}
