/**
 * Byte-plane (un)shuffling of float32 data for the shuffle-deflate codec: plane k holds byte
 * k of every element. A WebAssembly SIMD kernel moves 64 bytes per step with i8x16.shuffle;
 * a plain loop covers the tail and runtimes without WebAssembly SIMD.
 */
import { I32, V128, encodeModule, op } from '../../../kernels/cpu/wasm-asm.js';

const [SRC, DST, N, BLOCKS, I] = [0, 1, 2, 3, 4];
const X = [5, 6, 7, 8];
const T = [9, 10, 11, 12];
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const get = (i: number) => op.get(i);
/** Address src/dst + plane·n + i·16. */
const planeAt = (base: number, plane: number) => [
  get(base),
  ...(plane ? [get(N), op.i32(plane), op.mul, op.add] : []),
  get(I),
  op.i32(4),
  op.shl,
  op.add,
];

// shuffle: 16 interleaved elements (4 vectors) → 16 bytes of each of the 4 planes.
const EVEN = [0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29];
const ODD = [2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31];
const LOW_HALVES = [...range(0, 8), ...range(16, 24)];
const HIGH_HALVES = [...range(8, 16), ...range(24, 32)];
// unshuffle: 16 bytes of each plane → 16 interleaved elements.
const ZIP_LO = range(0, 8).flatMap((i) => [i, 16 + i]);
const ZIP_HI = range(8, 16).flatMap((i) => [i, 16 + i]);
const ZIP16_LO = range(0, 4).flatMap((i) => [2 * i, 2 * i + 1, 16 + 2 * i, 17 + 2 * i]);
const ZIP16_HI = range(4, 8).flatMap((i) => [2 * i, 2 * i + 1, 16 + 2 * i, 17 + 2 * i]);

const loop = (body: number[][]) => [
  op.i32(0),
  op.set(I),
  op.block,
  op.loop,
  get(I),
  get(BLOCKS),
  op.geU,
  op.brIf(1),
  ...body,
  get(I),
  op.i32(1),
  op.add,
  op.set(I),
  op.br(0),
  op.end,
  op.end,
];
const pick = (out: number, a: number, b: number, lanes: number[]) => [
  get(a),
  get(b),
  op.i8x16Shuffle(lanes),
  op.set(out),
];

function buildModule(): Uint8Array<ArrayBuffer> {
  const shuffleBody = loop([
    // x0..x3 = the 64 interleaved bytes at src + i·64
    ...X.flatMap((x, k) => [get(SRC), get(I), op.i32(6), op.shl, op.add, op.v128Load(16 * k), op.set(x)]),
    ...pick(T[0], X[0], X[1], EVEN),
    ...pick(T[1], X[0], X[1], ODD),
    ...pick(T[2], X[2], X[3], EVEN),
    ...pick(T[3], X[2], X[3], ODD),
    ...(
      [
        [T[0], T[2], LOW_HALVES],
        [T[0], T[2], HIGH_HALVES],
        [T[1], T[3], LOW_HALVES],
        [T[1], T[3], HIGH_HALVES],
      ] as Array<[number, number, number[]]>
    ).flatMap(([a, b, lanes], plane) => [
      ...planeAt(DST, plane),
      get(a),
      get(b),
      op.i8x16Shuffle(lanes),
      op.v128Store(0),
    ]),
  ]);
  const unshuffleBody = loop([
    ...X.flatMap((x, plane) => [...planeAt(SRC, plane), op.v128Load(0), op.set(x)]),
    ...pick(T[0], X[0], X[1], ZIP_LO),
    ...pick(T[1], X[0], X[1], ZIP_HI),
    ...pick(T[2], X[2], X[3], ZIP_LO),
    ...pick(T[3], X[2], X[3], ZIP_HI),
    ...(
      [
        [T[0], T[2], ZIP16_LO],
        [T[0], T[2], ZIP16_HI],
        [T[1], T[3], ZIP16_LO],
        [T[1], T[3], ZIP16_HI],
      ] as Array<[number, number, number[]]>
    ).flatMap(([a, b, lanes], k) => [
      get(DST),
      get(I),
      op.i32(6),
      op.shl,
      op.add,
      get(a),
      get(b),
      op.i8x16Shuffle(lanes),
      op.v128Store(16 * k),
    ]),
  ]);
  const fn = (exportName: string, body: number[][]) => ({
    exportName,
    params: [I32, I32, I32, I32],
    locals: [
      [1, I32],
      [8, V128],
    ] as Array<[number, number]>,
    body,
  });
  return encodeModule([fn('shuffle4', shuffleBody), fn('unshuffle4', unshuffleBody)]);
}

type Kernel = (src: number, dst: number, n: number, blocks: number) => void;
interface Simd {
  memory: WebAssembly.Memory;
  shuffle4: Kernel;
  unshuffle4: Kernel;
}

const simd: Simd | null = (() => {
  if (typeof WebAssembly === 'undefined') return null;
  const bytes = buildModule();
  if (!WebAssembly.validate(bytes)) return null;
  const memory = new WebAssembly.Memory({ initial: 1 });
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
  return { memory, shuffle4: exports.shuffle4 as Kernel, unshuffle4: exports.unshuffle4 as Kernel };
})();

/**
 * Elements per step: the kernels work on chunks that stay in the L1/L2 cache (4 planes of
 * 8 KiB in, 32 KiB out), so each byte goes through main memory once each way instead of
 * being staged through megabytes of WebAssembly memory.
 */
const CHUNK = 8192;
const PLANES_AT = 0;
const ELEMENTS_AT = 4 * CHUNK;

function memoryOf(s: Simd): Uint8Array {
  if (s.memory.buffer.byteLength < 8 * CHUNK)
    s.memory.grow(Math.ceil((8 * CHUNK - s.memory.buffer.byteLength) / 65536));
  return new Uint8Array(s.memory.buffer);
}

/** Byte k of element i goes to out[k·n + i]. */
export function shuffleInto(bytes: Uint8Array, elementSize: number, out: Uint8Array): void {
  const n = bytes.length / elementSize;
  let done = 0;
  if (elementSize === 4 && simd) {
    const mem = memoryOf(simd);
    for (; done + 16 <= n; done += CHUNK) {
      const count = Math.min(CHUNK, n - done) & ~15;
      mem.set(bytes.subarray(4 * done, 4 * (done + count)), ELEMENTS_AT);
      simd.shuffle4(ELEMENTS_AT, PLANES_AT, CHUNK, count >> 4);
      for (let k = 0; k < 4; k++)
        out.set(mem.subarray(PLANES_AT + k * CHUNK, PLANES_AT + k * CHUNK + count), k * n + done);
      if (count < CHUNK) {
        done += count;
        break;
      }
    }
  }
  for (let k = 0; k < elementSize; k++) for (let i = done; i < n; i++) out[k * n + i] = bytes[i * elementSize + k];
}

/** The inverse: planes (each n bytes) interleaved back into `out` (n · planes.length bytes). */
export function unshuffleInto(planes: Uint8Array[], n: number, out: Uint8Array): void {
  const size = planes.length;
  let done = 0;
  if (size === 4 && simd) {
    const mem = memoryOf(simd);
    for (; done + 16 <= n; done += CHUNK) {
      const count = Math.min(CHUNK, n - done) & ~15;
      for (let k = 0; k < 4; k++) mem.set(planes[k].subarray(done, done + count), PLANES_AT + k * CHUNK);
      simd.unshuffle4(PLANES_AT, ELEMENTS_AT, CHUNK, count >> 4);
      out.set(mem.subarray(ELEMENTS_AT, ELEMENTS_AT + 4 * count), 4 * done);
      if (count < CHUNK) {
        done += count;
        break;
      }
    }
  }
  for (let k = 0; k < size; k++) {
    const plane = planes[k];
    for (let i = done; i < n; i++) out[i * size + k] = plane[i];
  }
}
