import { I32, V128, encodeModule, forLoop, op } from './wasm-asm.js';

/**
 * 2×2 max pooling at stride 2 in WebAssembly SIMD, four channels a vector, without a branch:
 * each later cell of the window replaces the best so far through a lane mask, where a
 * JavaScript comparison mispredicts on activations (they are not sorted). The rule is the
 * scalar loop's: row-major over the window, a later cell wins only if larger, or if it is the
 * first NaN; the winner's flat input index goes to `argmax`.
 *
 * maxPool2x2(x, out, argmax, batch, inH, inW, groups, outH, outW), channels = 4·groups.
 */
function buildModule(): Uint8Array<ArrayBuffer> {
  const [X, OUT, ARG, BATCH, INH, INW, GROUPS, OUTH, OUTW] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [B, OY, OX, G, P, IDX, RIGHT, DOWN] = [9, 10, 11, 12, 13, 14, 15, 16];
  const [BEST, BI, V, VI, TAKE, IDXV, LANES, OFF_R, OFF_D, OFF_DR] = [17, 18, 19, 20, 21, 22, 23, 24, 25, 26];
  // One later cell at byte offset `bytes` (a local, or none) and index offset `offsets`.
  const cell = (bytes: number[][], offsets: number) => [
    op.get(P),
    ...bytes,
    op.v128Load(0),
    op.set(V),
    op.get(IDXV),
    op.get(offsets),
    op.i32x4Add,
    op.set(VI),
    op.get(V),
    op.get(BEST),
    op.f32x4Gt,
    op.get(V),
    op.get(V),
    op.f32x4Ne,
    op.get(BEST),
    op.get(BEST),
    op.f32x4Eq,
    op.v128And,
    op.v128Or,
    op.set(TAKE),
    op.get(V),
    op.get(BEST),
    op.get(TAKE),
    op.v128Bitselect,
    op.set(BEST),
    op.get(VI),
    op.get(BI),
    op.get(TAKE),
    op.v128Bitselect,
    op.set(BI),
  ];
  const body = [
    op.v128ConstI32([0, 1, 2, 3]),
    op.set(LANES),
    // RIGHT = channels·4 bytes; DOWN = inW·channels·4 bytes; the index offsets of the three later cells.
    op.get(GROUPS),
    op.i32(16),
    op.mul,
    op.set(RIGHT),
    op.get(INW),
    op.get(RIGHT),
    op.mul,
    op.set(DOWN),
    op.get(RIGHT),
    op.i32(2),
    op.shrU,
    op.i32x4Splat,
    op.set(OFF_R),
    op.get(DOWN),
    op.i32(2),
    op.shrU,
    op.i32x4Splat,
    op.set(OFF_D),
    op.get(OFF_R),
    op.get(OFF_D),
    op.i32x4Add,
    op.set(OFF_DR),
    ...forLoop(
      B,
      BATCH,
      forLoop(OY, OUTH, [
        // IDX = (b·inH + 2·oy)·inW·channels: the window row's first value.
        op.get(B),
        op.get(INH),
        op.mul,
        op.get(OY),
        op.i32(1),
        op.shl,
        op.add,
        op.get(DOWN),
        op.mul,
        op.i32(2),
        op.shrU,
        op.set(IDX),
        op.get(X),
        op.get(IDX),
        op.i32(2),
        op.shl,
        op.add,
        op.set(P),
        ...forLoop(OX, OUTW, [
          ...forLoop(G, GROUPS, [
            op.get(IDX),
            op.i32x4Splat,
            op.get(LANES),
            op.i32x4Add,
            op.set(IDXV),
            op.get(P),
            op.v128Load(0),
            op.set(BEST),
            op.get(IDXV),
            op.set(BI),
            ...cell([op.get(RIGHT), op.add], OFF_R),
            ...cell([op.get(DOWN), op.add], OFF_D),
            ...cell([op.get(DOWN), op.add, op.get(RIGHT), op.add], OFF_DR),
            op.get(OUT),
            op.get(BEST),
            op.v128Store(0),
            op.get(ARG),
            op.get(BI),
            op.v128Store(0),
            op.get(OUT),
            op.i32(16),
            op.add,
            op.set(OUT),
            op.get(ARG),
            op.i32(16),
            op.add,
            op.set(ARG),
            op.get(P),
            op.i32(16),
            op.add,
            op.set(P),
            op.get(IDX),
            op.i32(4),
            op.add,
            op.set(IDX),
          ]),
          // Past the window's right column.
          op.get(P),
          op.get(RIGHT),
          op.add,
          op.set(P),
          op.get(IDX),
          op.get(RIGHT),
          op.i32(2),
          op.shrU,
          op.add,
          op.set(IDX),
        ]),
      ]),
    ),
  ];
  return encodeModule([
    {
      exportName: 'maxPool2x2',
      params: Array(9).fill(I32),
      locals: [
        [8, I32],
        [10, V128],
      ],
      body,
    },
  ]);
}

type MaxPool2x2 = (
  x: number,
  out: number,
  argmax: number,
  batch: number,
  inH: number,
  inW: number,
  groups: number,
  outH: number,
  outW: number,
) => void;

interface PoolKernel {
  memory: WebAssembly.Memory;
  maxPool2x2: MaxPool2x2;
}

let kernel: PoolKernel | null | undefined;

function load(): PoolKernel | null {
  if (typeof WebAssembly === 'undefined') return null;
  const bytes = buildModule();
  if (!WebAssembly.validate(bytes)) return null;
  const memory = new WebAssembly.Memory({ initial: 16 });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  return { memory, maxPool2x2: instance.exports.maxPool2x2 as MaxPool2x2 };
}

/**
 * The SIMD kernel's result for `x` [batch, inH, inW, channels] into `out` and `argmax`, or false
 * where it does not apply (channels not in fours, or no SIMD) and the caller loops.
 */
export function maxPool2x2Simd(
  x: Float32Array,
  batch: number,
  inH: number,
  inW: number,
  channels: number,
  outH: number,
  outW: number,
  out: Float32Array,
  argmax: Int32Array,
): boolean {
  if (channels % 4 !== 0) return false;
  kernel ??= load();
  if (kernel === null) return false;
  const n = out.length,
    bytes = (x.length + 2 * n) * 4;
  const missing = bytes - kernel.memory.buffer.byteLength;
  if (missing > 0) kernel.memory.grow(Math.ceil(missing / 65536));
  const heap = new Float32Array(kernel.memory.buffer);
  heap.set(x, 0);
  kernel.maxPool2x2(0, 4 * x.length, 4 * (x.length + n), batch, inH, inW, channels / 4, outH, outW);
  out.set(heap.subarray(x.length, x.length + n));
  argmax.set(new Int32Array(kernel.memory.buffer, 4 * (x.length + n), n));
  return true;
}
