/**
 * Just enough of a WebAssembly binary encoder to emit one SIMD micro-kernel from
 * TypeScript, with no C toolchain. Spec: https://webassembly.github.io/spec/core/binary/
 */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const V128 = 0x7b;
export const F32 = 0x7d;

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (for i32.const). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const name = (s: string): number[] => [...uleb(s.length), ...new TextEncoder().encode(s)];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** Instruction helpers: each returns the bytes of one instruction. */
export const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  shl: [0x74],
  geU: [0x4f],
  and: [0x71],
  or: [0x72],
  shrU: [0x76],
  eqz: [0x45],
  ltS: [0x48],
  gtS: [0x4a],
  // memarg = log2(alignment) (0: any), byte offset.
  load: (offset: number) => [0x28, 0, ...uleb(offset)],
  load8U: (offset: number) => [0x2d, 0, ...uleb(offset)],
  store: (offset: number) => [0x36, 0, ...uleb(offset)],
  i64Load: (offset: number) => [0x29, 0, ...uleb(offset)],
  i64Store: (offset: number) => [0x37, 0, ...uleb(offset)],
  i64ExtendI32U: [0xad],
  i32WrapI64: [0xa7],
  i64Or: [0x84],
  i64Shl: [0x86],
  i64ShrU: [0x88],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  // SIMD (prefix 0xfd); memarg = log2(alignment), byte offset.
  v128Load: (offset: number) => [0xfd, 0x00, 4, ...uleb(offset)],
  v128Store: (offset: number) => [0xfd, 0x0b, 4, ...uleb(offset)],
  load32Splat: (offset: number) => [0xfd, 0x09, 2, ...uleb(offset)],
  /** i8x16.shuffle: 16 lane indices into the 32 bytes of its two operands. */
  i8x16Shuffle: (lanes: number[]) => [0xfd, 0x0d, ...lanes],
  f32x4Add: [0xfd, ...uleb(0xe4)],
  f32x4Sub: [0xfd, ...uleb(0xe5)],
  f32x4Mul: [0xfd, ...uleb(0xe6)],
  f32x4Div: [0xfd, ...uleb(0xe7)],
  f32x4Sqrt: [0xfd, ...uleb(0xe3)],
  f32x4Splat: [0xfd, ...uleb(0x13)],
  f32x4Max: [0xfd, ...uleb(0xe9)],
  i32x4Splat: [0xfd, ...uleb(0x11)],
  f32x4Le: [0xfd, ...uleb(0x45)],
  f32x4Eq: [0xfd, ...uleb(0x41)],
  f32x4Ne: [0xfd, ...uleb(0x42)],
  f32x4Gt: [0xfd, ...uleb(0x44)],
  v128And: [0xfd, ...uleb(0x4e)],
  v128Or: [0xfd, ...uleb(0x50)],
  /** v128.bitselect(a, b, mask): a's bits where mask is 1, b's elsewhere. */
  v128Bitselect: [0xfd, ...uleb(0x52)],
  i32x4Add: [0xfd, ...uleb(0xae)],
  /** v128.const of four i32 lanes. */
  v128ConstI32: (lanes: number[]) => [
    0xfd,
    0x0c,
    ...lanes.flatMap((v) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]),
  ],
  v128AndNot: [0xfd, ...uleb(0x4f)],
  /** v128.const of four f32 lanes, each `v` rounded to float32. */
  f32x4Const: (v: number) => [
    0xfd,
    0x0c,
    ...[0, 1, 2, 3].flatMap(() => [...new Uint8Array(Float32Array.of(v).buffer)]),
  ],
  f32x4Abs: [0xfd, ...uleb(0xe0)],
  f32x4Neg: [0xfd, ...uleb(0xe1)],
  f32x4Min: [0xfd, ...uleb(0xe8)],
  /** Pseudo-min and -max: b < a ? b : a and a < b ? b : a (one instruction each where f32x4.min/max take several). */
  f32x4Pmin: [0xfd, ...uleb(0xea)],
  f32x4Pmax: [0xfd, ...uleb(0xeb)],
  i32x4Sub: [0xfd, ...uleb(0xb1)],
  f32x4Lt: [0xfd, ...uleb(0x43)],
  f32x4Nearest: [0xfd, ...uleb(0x6a)],
  i32x4TruncSatF32x4S: [0xfd, ...uleb(0xf8)],
  /** i32x4.shl by the i32 on top of the stack. */
  i32x4Shl: [0xfd, ...uleb(0xab)],
  v128Xor: [0xfd, ...uleb(0x51)],
  v128Load64Splat: (offset: number) => [0xfd, 0x0a, 3, ...uleb(offset)],
  f64x2Add: [0xfd, ...uleb(0xf0)],
  f64x2Sub: [0xfd, ...uleb(0xf1)],
  f64x2Mul: [0xfd, ...uleb(0xf2)],
  /** The two low f32 lanes widened to f64. */
  f64x2PromoteLowF32x4: [0xfd, ...uleb(0x5f)],
  /** Two f64 lanes rounded to f32 in lanes 0–1, zeros above. */
  f32x4DemoteF64x2Zero: [0xfd, ...uleb(0x5e)],
};

/** `for (i = 0; i < limit; i++) body` over i32 locals, as a block/loop pair (limit 0 runs nothing). */
export const forLoop = (i: number, limit: number, body: number[][]): number[][] => [
  op.i32(0),
  op.set(i),
  op.block,
  op.loop,
  op.get(i),
  op.get(limit),
  op.geU,
  op.brIf(1),
  ...body,
  op.get(i),
  op.i32(1),
  op.add,
  op.set(i),
  op.br(0),
  op.end,
  op.end,
];

/** The address `base + k·step` (i32 locals), as the instructions that push it. */
export const nthAddress = (base: number, step: number, k: number): number[][] =>
  k === 0 ? [op.get(base)] : [op.get(base), op.get(step), op.i32(k), op.mul, op.add];

/** A module from its bytes, or null where WebAssembly (or the SIMD it uses) is missing: the caller falls back. */
export function compileModule(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module | null {
  if (typeof WebAssembly === 'undefined') return null;
  return WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
}

/** local += the value the instructions `by` push. */
export const bump = (local: number, by: number[][]): number[][] => [op.get(local), ...by, op.add, op.set(local)];

export interface WasmFunction {
  exportName: string;
  params: number[];
  /** Extra locals, as [count, type] groups. */
  locals: Array<[number, number]>;
  body: number[][];
}

/** A module that imports its memory as env.memory and exports the given functions. */
export function encodeModule(functions: WasmFunction[]): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vec(f.params.map((p) => [p])), 0]);
  const imports = [[...name('env'), ...name('memory'), 0x02, 0x00, 1]];
  const exports = functions.map((f, i) => [...name(f.exportName), 0x00, ...uleb(i)]);
  const bodies = functions.map((f) => {
    const body = [...vec(f.locals.map(([n, t]) => [...uleb(n), t])), ...f.body.flat(), 0x0b];
    return [...uleb(body.length), ...body];
  });
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}
