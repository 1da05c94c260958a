import { I32, V128, compileModule, encodeModule, forLoop, op } from './wasm-asm.js';
import { growMemory, regions } from './wasm-memory.js';

/**
 * The passes of kernels/cpu/normalize.ts in WebAssembly SIMD, four float32 values a vector,
 * every sum and product in float64 as there (each f32x4 widened to two f64x2): the channel
 * passes (BatchNormalization) keep each channel's sums in the same order as the JavaScript
 * loops, so they give the same bits; the row passes (LayerNormalization) sum a row in two
 * lanes pairs, which can move a float32 result by an ulp.
 *
 * Each pass walks `rows` rows of `groups` four-value groups. Its parameters: the float32
 * streams (advanced a vector at a time), rows, groups, then float64 arrays per column (at
 * the group's offset, again every row), then float64 arrays per row (advanced a row at a time).
 */
type Code = number[][];

interface PassContext {
  /** The next vector of stream i. */
  load(i: number): Code;
  store(i: number, value: Code): Code;
  /** Half h (0: channels 0–1 of the group, 1: channels 2–3) of column array i, as f64x2. */
  column(i: number, h: number): Code;
  addToColumn(i: number, h: number, value: Code): Code;
  /** Row array i's f64 at byte `offset` of this row, in both lanes. */
  rowSplat(i: number, offset: number): Code;
  storeRow(i: number, offset: number, value: Code): Code;
  /** v128 scratch local i. */
  v(i: number): number;
}

interface PassSpec {
  exportName: string;
  streams: number;
  columns: number;
  /** Bytes a row of each row array takes. */
  rowBytes: number[];
  vectors: number;
  rowStart?: (c: PassContext) => Code;
  group: (c: PassContext) => Code;
  rowEnd?: (c: PassContext) => Code;
}

function pass(spec: PassSpec) {
  const { streams, columns, rowBytes } = spec;
  const rowsParam = streams,
    groupsParam = streams + 1,
    column0 = streams + 2,
    row0 = column0 + columns;
  const params = row0 + rowBytes.length;
  const [R, G, O] = [params, params + 1, params + 2];
  const v = (i: number) => params + 3 + i;
  const columnAddress = (i: number, h: number) => [
    op.get(column0 + i),
    op.get(O),
    op.add,
    ...(h ? [op.i32(16), op.add] : []),
  ];
  const c: PassContext = {
    load: (i) => [op.get(i), op.v128Load(0)],
    store: (i, value) => [op.get(i), ...value, op.v128Store(0)],
    column: (i, h) => [...columnAddress(i, h), op.v128Load(0)],
    addToColumn: (i, h, value) => [
      ...columnAddress(i, h),
      ...columnAddress(i, h),
      op.v128Load(0),
      ...value,
      op.f64x2Add,
      op.v128Store(0),
    ],
    rowSplat: (i, offset) => [op.get(row0 + i), op.v128Load64Splat(offset)],
    storeRow: (i, offset, value) => [op.get(row0 + i), ...value, op.v128Store(offset)],
    v,
  };
  const advance = (local: number, bytes: number) => [op.get(local), op.i32(bytes), op.add, op.set(local)];
  return {
    exportName: spec.exportName,
    params: Array(params).fill(I32),
    locals: [
      [3, I32],
      [spec.vectors, V128],
    ] as Array<[number, number]>,
    body: forLoop(R, rowsParam, [
      op.i32(0),
      op.set(O),
      ...(spec.rowStart?.(c) ?? []),
      ...forLoop(G, groupsParam, [
        ...spec.group(c),
        ...Array.from({ length: streams }, (_, i) => advance(i, 16)).flat(),
        ...advance(O, 32),
      ]),
      ...(spec.rowEnd?.(c) ?? []),
      ...rowBytes.flatMap((bytes, i) => advance(row0 + i, bytes)),
    ]),
  };
}

const get = (l: number): Code => [op.get(l)];
const set = (l: number, value: Code): Code => [...value, op.set(l)];
const add = (a: Code, b: Code): Code => [...a, ...b, op.f64x2Add];
const sub = (a: Code, b: Code): Code => [...a, ...b, op.f64x2Sub];
const mul = (a: Code, b: Code): Code => [...a, ...b, op.f64x2Mul];
const zero: Code = [op.i32(0), op.i32x4Splat];
const f32Lanes = (...fs: number[]) => op.i8x16Shuffle(fs.flatMap((f) => [4 * f, 4 * f + 1, 4 * f + 2, 4 * f + 3]));
/** Half h of the f32x4 in local l, widened to f64x2. */
const widen = (l: number, h: number): Code =>
  h === 0
    ? [op.get(l), op.f64x2PromoteLowF32x4]
    : [op.get(l), op.get(l), f32Lanes(2, 3, 2, 3), op.f64x2PromoteLowF32x4];
/** Two f64x2 halves rounded back into one f32x4. */
const narrow = (low: Code, high: Code): Code => [
  ...low,
  op.f32x4DemoteF64x2Zero,
  ...high,
  op.f32x4DemoteF64x2Zero,
  f32Lanes(0, 1, 4, 5),
];
const halves = (f: (h: number) => Code): Code => [...f(0), ...f(1)];

function buildModule(): Uint8Array<ArrayBuffer> {
  const X = 0;
  const passes = [
    // colSums(x, rows, groups, sum): per channel Σ x.
    pass({
      exportName: 'colSums',
      streams: 1,
      columns: 1,
      rowBytes: [],
      vectors: 1,
      group: (c) => [...set(c.v(0), c.load(X)), ...halves((h) => c.addToColumn(0, h, widen(c.v(0), h)))],
    }),
    // colSquares(x, rows, groups, mean, sq): per channel Σ (x − mean)².
    pass({
      exportName: 'colSquares',
      streams: 1,
      columns: 2,
      rowBytes: [],
      vectors: 2,
      group: (c) => [
        ...set(c.v(0), c.load(X)),
        ...halves((h) => [
          ...set(c.v(1), sub(widen(c.v(0), h), c.column(0, h))),
          ...c.addToColumn(1, h, mul(get(c.v(1)), get(c.v(1)))),
        ]),
      ],
    }),
    // colAffine(x, xhat, y, rows, groups, mean, rstd, scale, shift): x̂ = (x − mean)·rstd, y = x̂·scale + shift.
    pass({
      exportName: 'colAffine',
      streams: 3,
      columns: 4,
      rowBytes: [],
      vectors: 3,
      group: (c) => [
        ...set(c.v(0), c.load(X)),
        ...set(c.v(1), mul(sub(widen(c.v(0), 0), c.column(0, 0)), c.column(1, 0))),
        ...set(c.v(2), mul(sub(widen(c.v(0), 1), c.column(0, 1)), c.column(1, 1))),
        ...c.store(1, narrow(get(c.v(1)), get(c.v(2)))),
        ...c.store(
          2,
          narrow(
            add(mul(get(c.v(1)), c.column(2, 0)), c.column(3, 0)),
            add(mul(get(c.v(2)), c.column(2, 1)), c.column(3, 1)),
          ),
        ),
      ],
    }),
    // colGradSums(dy, xhat, rows, groups, sumG, sumGX): per channel Σ dy and Σ dy·x̂.
    pass({
      exportName: 'colGradSums',
      streams: 2,
      columns: 2,
      rowBytes: [],
      vectors: 2,
      group: (c) => [
        ...set(c.v(0), c.load(0)),
        ...set(c.v(1), c.load(1)),
        ...halves((h) => [
          ...c.addToColumn(0, h, widen(c.v(0), h)),
          ...c.addToColumn(1, h, mul(widen(c.v(0), h), widen(c.v(1), h))),
        ]),
      ],
    }),
    // colGrad(dy, xhat, dx, rows, groups, rstd, gamma, meanD, meanDX): dx = rstd·(dy·γ − meanD − x̂·meanDX).
    pass({
      exportName: 'colGrad',
      streams: 3,
      columns: 4,
      rowBytes: [],
      vectors: 2,
      group: (c) => {
        const dx = (h: number) =>
          mul(
            c.column(0, h),
            sub(sub(mul(widen(c.v(0), h), c.column(1, h)), c.column(2, h)), mul(widen(c.v(1), h), c.column(3, h))),
          );
        return [...set(c.v(0), c.load(0)), ...set(c.v(1), c.load(1)), ...c.store(2, narrow(dx(0), dx(1)))];
      },
    }),
    // rowSums(x, rows, groups, out): each row's Σ x as two f64 lanes.
    pass({
      exportName: 'rowSums',
      streams: 1,
      columns: 0,
      rowBytes: [16],
      vectors: 3,
      rowStart: (c) => [...set(c.v(1), zero), ...set(c.v(2), zero)],
      group: (c) => [
        ...set(c.v(0), c.load(X)),
        ...halves((h) => set(c.v(1 + h), add(get(c.v(1 + h)), widen(c.v(0), h)))),
      ],
      rowEnd: (c) => c.storeRow(0, 0, add(get(c.v(1)), get(c.v(2)))),
    }),
    // rowSquares(x, rows, groups, stats, out): each row's Σ (x − mean)² as two f64 lanes, its mean first in stats' (mean, rstd).
    pass({
      exportName: 'rowSquares',
      streams: 1,
      columns: 0,
      rowBytes: [16, 16],
      vectors: 5,
      rowStart: (c) => [...set(c.v(1), zero), ...set(c.v(2), zero), ...set(c.v(3), c.rowSplat(0, 0))],
      group: (c) => [
        ...set(c.v(0), c.load(X)),
        ...halves((h) => [
          ...set(c.v(4), sub(widen(c.v(0), h), get(c.v(3)))),
          ...set(c.v(1 + h), add(get(c.v(1 + h)), mul(get(c.v(4)), get(c.v(4))))),
        ]),
      ],
      rowEnd: (c) => c.storeRow(1, 0, add(get(c.v(1)), get(c.v(2)))),
    }),
    // rowAffine(x, xhat, y, rows, groups, scale, shift, stats): stats per row (mean, rstd); x̂ = (x − mean)·rstd, y = x̂·scale + shift.
    pass({
      exportName: 'rowAffine',
      streams: 3,
      columns: 2,
      rowBytes: [16],
      vectors: 5,
      rowStart: (c) => [...set(c.v(3), c.rowSplat(0, 0)), ...set(c.v(4), c.rowSplat(0, 8))],
      group: (c) => [
        ...set(c.v(0), c.load(X)),
        ...halves((h) => set(c.v(1 + h), mul(sub(widen(c.v(0), h), get(c.v(3))), get(c.v(4))))),
        ...c.store(1, narrow(get(c.v(1)), get(c.v(2)))),
        ...c.store(
          2,
          narrow(
            add(mul(get(c.v(1)), c.column(0, 0)), c.column(1, 0)),
            add(mul(get(c.v(2)), c.column(0, 1)), c.column(1, 1)),
          ),
        ),
      ],
    }),
    // rowGradSums(dy, xhat, rows, groups, gamma, dgamma, dbeta, out): per row Σ d and Σ d·x̂ (d = dy·γ) as lane pairs; per column Σ dy·x̂ and Σ dy.
    pass({
      exportName: 'rowGradSums',
      streams: 2,
      columns: 3,
      rowBytes: [32],
      vectors: 9,
      rowStart: (c) => [1, 2, 3, 4].flatMap((i) => set(c.v(i), zero)),
      group: (c) => [
        ...set(c.v(0), c.load(0)),
        ...set(c.v(5), c.load(1)),
        ...halves((h) => [
          ...set(c.v(6), widen(c.v(0), h)),
          ...set(c.v(7), widen(c.v(5), h)),
          ...set(c.v(8), mul(get(c.v(6)), c.column(0, h))),
          ...set(c.v(1 + h), add(get(c.v(1 + h)), get(c.v(8)))),
          ...set(c.v(3 + h), add(get(c.v(3 + h)), mul(get(c.v(8)), get(c.v(7))))),
          ...c.addToColumn(1, h, mul(get(c.v(6)), get(c.v(7)))),
          ...c.addToColumn(2, h, get(c.v(6))),
        ]),
      ],
      rowEnd: (c) => [
        ...c.storeRow(0, 0, add(get(c.v(1)), get(c.v(2)))),
        ...c.storeRow(0, 16, add(get(c.v(3)), get(c.v(4)))),
      ],
    }),
    // rowGrad(dy, xhat, dx, rows, groups, gamma, coefficients): per row (meanD, meanDX, rstd); dx = rstd·(dy·γ − meanD − x̂·meanDX).
    pass({
      exportName: 'rowGrad',
      streams: 3,
      columns: 1,
      rowBytes: [24],
      vectors: 5,
      rowStart: (c) => [
        ...set(c.v(2), c.rowSplat(0, 0)),
        ...set(c.v(3), c.rowSplat(0, 8)),
        ...set(c.v(4), c.rowSplat(0, 16)),
      ],
      group: (c) => {
        const dx = (h: number) =>
          mul(
            get(c.v(4)),
            sub(sub(mul(widen(c.v(0), h), c.column(0, h)), get(c.v(2))), mul(widen(c.v(1), h), get(c.v(3)))),
          );
        return [...set(c.v(0), c.load(0)), ...set(c.v(1), c.load(1)), ...c.store(2, narrow(dx(0), dx(1)))];
      },
    }),
  ];
  return encodeModule(passes);
}

type Pass = (...args: number[]) => void;
export interface NormalizeKernel {
  memory: WebAssembly.Memory;
  colSums: Pass;
  colSquares: Pass;
  colAffine: Pass;
  colGradSums: Pass;
  colGrad: Pass;
  rowSums: Pass;
  rowSquares: Pass;
  rowAffine: Pass;
  rowGradSums: Pass;
  rowGrad: Pass;
}

let kernel: NormalizeKernel | null | undefined;

/** The kernel, or null where WebAssembly SIMD is missing (the JavaScript loops run). */
export function normalizeKernel(): NormalizeKernel | null {
  if (kernel !== undefined) return kernel;
  const module = compileModule(buildModule());
  if (module === null) return (kernel = null);
  const memory = new WebAssembly.Memory({ initial: 16 });
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, Pass>;
  return (kernel = {
    memory,
    colSums: exports.colSums,
    colSquares: exports.colSquares,
    colAffine: exports.colAffine,
    colGradSums: exports.colGradSums,
    colGrad: exports.colGrad,
    rowSums: exports.rowSums,
    rowSquares: exports.rowSquares,
    rowAffine: exports.rowAffine,
    rowGradSums: exports.rowGradSums,
    rowGrad: exports.rowGrad,
  });
}

/**
 * Byte offsets for the given regions (float32 or float64 counts), 16-byte aligned, and the
 * memory grown to hold them; `f32` and `f64` views of it.
 */
export function layOut<K extends string>(k: NormalizeKernel, sizes: Record<K, [count: number, bytesEach: 4 | 8]>) {
  const bytes = {} as Record<K, number>;
  for (const key of Object.keys(sizes) as K[]) bytes[key] = sizes[key][0] * sizes[key][1];
  const at = regions(bytes);
  growMemory(k.memory, at.end);
  return {
    at,
    f32: new Float32Array(k.memory.buffer),
    f64: new Float64Array(k.memory.buffer),
  };
}
