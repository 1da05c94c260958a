/**
 * The hot loops of the byte-plane Huffman codec as WebAssembly functions, sharing one
 * memory (they never run at once):
 * - `runs`, the literal-run loop of inflate.ts: a table indexed by the next 12 bits that
 *   yields up to four literals per lookup (wider than the JavaScript loop's, see
 *   buildWideRuns), a 64-bit bit buffer refilled without a branch once every four
 *   lookups, and one 32-bit store per lookup;
 * - `emit`, the literal loop of huffman-deflate.ts: two byte pairs' codes (see PAIRS there)
 *   per step into a 64-bit bit buffer, flushed with one 64-bit store;
 * - `histogram`, the byte counts a block's code is built from, in four interleaved tables
 *   (repeats of one value would otherwise wait on each other's increments).
 * Tables, input and output live in the memory: the callers copy the input in and the
 * output out, and keep everything else (block headers, matches, codes longer than the
 * table, the last bytes of either buffer) in JavaScript.
 */
import { I32, I64, encodeModule, op } from '../../../kernels/cpu/wasm-asm.js';

/** Bits indexed by the decoder's table of literal runs. */
export const RUN_BITS = 12;
/** Where a block's table of literal runs goes: the literals, four bytes per entry (2^RUN_BITS int32). */
export const RUNS_AT = 0;
/** Beside it, per entry: how many literals (bits 0-2; 0: not a run) and the bits they use (bits 3-6). */
export const RUN_META_AT = 4 << RUN_BITS;
/** Where `histogram` counts: four tables of 256 int32, one for each byte of a 4-byte word. */
export const HIST_AT = RUN_META_AT + (1 << RUN_BITS);
/** The bit reader's or writer's state, handed over both ways: bits, bit count, input address, output address. */
export const STATE_AT = HIST_AT + 4096;
/** Where the encoder's table of byte-pair codes goes (65536 int32). */
export const PAIRS_AT = STATE_AT + 4096;
/** Where the input, then the output, go. */
export const DATA_AT = PAIRS_AT + (4 << 16);

// Parameters: the last input address an 8-byte load may start at, the last output address
// a group of RUNS_PER_REFILL 4-byte stores may start at. Locals: the bit count, the input
// and output addresses, the table index, the entry's count and bits, the bits it uses, and
// the bit buffer.
const [IN_LAST, OUT_LAST, COUNT, IN, OUT, INDEX, META, USED, BITS] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const get = op.get;
const state = (k: number) => [op.i32(STATE_AT), op.load(4 * k)];
/** The state at STATE_AT into locals: the bit buffer (64-bit), the bit count, the input and output addresses. */
const loadState = (bits: number, count: number, input: number, output: number) => [
  ...state(0),
  op.i64ExtendI32U,
  op.set(bits),
  ...state(1),
  op.set(count),
  ...state(2),
  op.set(input),
  ...state(3),
  op.set(output),
];

/**
 * Lookups per refill: a refill leaves at least 56 bits buffered, and a run uses at most
 * RUN_BITS (12) of them, so four runs decode before the next refill is needed.
 */
export const RUNS_PER_REFILL = 4;

function runsBody(): number[][] {
  // One lookup. A count of 0 (not a run of literals) leaves the loop for JavaScript to
  // decode the symbol. The entry's four literal bytes are stored whole; those past its
  // count are overwritten by what follows.
  const lookup = [
    get(BITS),
    op.i32WrapI64,
    op.i32((1 << RUN_BITS) - 1),
    op.and,
    op.tee(INDEX),
    op.load8U(RUN_META_AT),
    op.tee(META),
    op.eqz,
    op.brIf(1),
    get(OUT),
    get(INDEX),
    op.i32(2),
    op.shl,
    op.load(RUNS_AT),
    op.store(0),
    get(OUT),
    get(META),
    op.i32(7),
    op.and,
    op.add,
    op.set(OUT),
    get(META),
    op.i32(3),
    op.shrU,
    op.set(USED),
    get(BITS),
    get(USED),
    op.i64ExtendI32U,
    op.i64ShrU,
    op.set(BITS),
    get(COUNT),
    get(USED),
    op.sub,
    op.set(COUNT),
  ];
  return [
    ...loadState(BITS, COUNT, IN, OUT),
    op.block,
    op.loop,
    get(OUT),
    get(OUT_LAST),
    op.gtS,
    op.brIf(1),
    get(IN),
    get(IN_LAST),
    op.gtS,
    op.brIf(1),
    // Branch-free refill (libdeflate's): eight bytes go in above the buffered bits; the
    // whole bytes among them are counted, and the partial one is loaded again next time.
    // Bits above the count are always the input's next bits, so loading them twice is harmless.
    get(BITS),
    get(IN),
    op.i64Load(0),
    get(COUNT),
    op.i64ExtendI32U,
    op.i64Shl,
    op.i64Or,
    op.set(BITS),
    get(IN),
    op.i32(63),
    get(COUNT),
    op.sub,
    op.i32(3),
    op.shrU,
    op.add,
    op.set(IN),
    get(COUNT),
    op.i32(56),
    op.or,
    op.set(COUNT),
    ...Array.from({ length: RUNS_PER_REFILL }, () => lookup).flat(),
    op.br(0),
    op.end,
    op.end,
    // Whole bytes still buffered go back to the input, so the JavaScript reader holds < 8 bits.
    op.i32(STATE_AT),
    get(BITS),
    op.i32WrapI64,
    op.i32(1),
    get(COUNT),
    op.i32(7),
    op.and,
    op.shl,
    op.i32(1),
    op.sub,
    op.and,
    op.store(0),
    op.i32(STATE_AT),
    get(COUNT),
    op.i32(7),
    op.and,
    op.store(4),
    op.i32(STATE_AT),
    get(IN),
    get(COUNT),
    op.i32(3),
    op.shrU,
    op.sub,
    op.store(8),
    op.i32(STATE_AT),
    get(OUT),
    op.store(12),
  ];
}

// emit: parameters the input's end address; locals the bit count, the input and output
// addresses, four input bytes, a pair's code, and the bit buffer.
const [IN_END, E_COUNT, E_IN, E_OUT, WORD, CODE, ACC] = [0, 1, 2, 3, 4, 5, 6];

/** acc |= (code & 0xfffff) << count; count += code >> 20, for the pair at PAIRS[index]. */
const addPair = (index: number[][]) => [
  ...index,
  op.i32(2),
  op.shl,
  op.load(PAIRS_AT),
  op.set(CODE),
  get(ACC),
  get(CODE),
  op.i32(0xfffff),
  op.and,
  op.i64ExtendI32U,
  get(E_COUNT),
  op.i64ExtendI32U,
  op.i64Shl,
  op.i64Or,
  op.set(ACC),
  get(E_COUNT),
  get(CODE),
  op.i32(20),
  op.shrU,
  op.add,
  op.set(E_COUNT),
];

function emitBody(): number[][] {
  return [
    ...loadState(ACC, E_COUNT, E_IN, E_OUT),
    op.block,
    op.loop,
    // Four input bytes a step: two pairs, at most 40 bits on top of the < 8 left over.
    get(E_IN),
    op.i32(4),
    op.add,
    get(IN_END),
    op.gtS,
    op.brIf(1),
    get(E_IN),
    op.load(0),
    op.set(WORD),
    ...addPair([get(WORD), op.i32(0xffff), op.and]),
    ...addPair([get(WORD), op.i32(16), op.shrU]),
    // Store eight bytes, keep the whole ones: no branch on whether a byte is full.
    get(E_OUT),
    get(ACC),
    op.i64Store(0),
    get(E_OUT),
    get(E_COUNT),
    op.i32(3),
    op.shrU,
    op.add,
    op.set(E_OUT),
    get(ACC),
    get(E_COUNT),
    op.i32(-8),
    op.and,
    op.i64ExtendI32U,
    op.i64ShrU,
    op.set(ACC),
    get(E_COUNT),
    op.i32(7),
    op.and,
    op.set(E_COUNT),
    get(E_IN),
    op.i32(4),
    op.add,
    op.set(E_IN),
    op.br(0),
    op.end,
    op.end,
    op.i32(STATE_AT),
    get(ACC),
    op.i32WrapI64,
    op.store(0),
    op.i32(STATE_AT),
    get(E_COUNT),
    op.store(4),
    op.i32(STATE_AT),
    get(E_IN),
    op.store(8),
    op.i32(STATE_AT),
    get(E_OUT),
    op.store(12),
  ];
}

// histogram: parameters the input's start and end addresses; locals four input bytes and a counter's address.
const [H_AT, H_END, H_WORD, H_COUNTER] = [0, 1, 2, 3];

function histogramBody(): number[][] {
  const count = (table: number, shift: number) => [
    get(H_WORD),
    ...(shift ? [op.i32(shift), op.shrU] : []),
    op.i32(255),
    op.and,
    op.i32(2),
    op.shl,
    op.tee(H_COUNTER),
    get(H_COUNTER),
    op.load(HIST_AT + 1024 * table),
    op.i32(1),
    op.add,
    op.store(HIST_AT + 1024 * table),
  ];
  return [
    op.block,
    op.loop,
    get(H_AT),
    op.i32(4),
    op.add,
    get(H_END),
    op.gtS,
    op.brIf(1),
    get(H_AT),
    op.load(0),
    op.set(H_WORD),
    ...count(0, 0),
    ...count(1, 8),
    ...count(2, 16),
    ...count(3, 24),
    get(H_AT),
    op.i32(4),
    op.add,
    op.set(H_AT),
    op.br(0),
    op.end,
    op.end,
    op.i32(STATE_AT),
    get(H_AT),
    op.store(8),
  ];
}

function buildModule(): Uint8Array<ArrayBuffer> {
  return encodeModule([
    { exportName: 'histogram', params: [I32, I32], locals: [[2, I32]], body: histogramBody() },
    {
      exportName: 'runs',
      params: [I32, I32],
      locals: [
        [6, I32],
        [1, I64],
      ],
      body: runsBody(),
    },
    {
      exportName: 'emit',
      params: [I32],
      locals: [
        [5, I32],
        [1, I64],
      ],
      body: emitBody(),
    },
  ]);
}

export interface HuffmanKernels {
  memory: WebAssembly.Memory;
  /** Decodes runs of literals from the state at STATE_AT until one of the limits, or a symbol that is not a run. */
  runs(inLast: number, outLast: number): void;
  /**
   * Codes input bytes from the state at STATE_AT, four at a time, while four remain before
   * `inEnd`; leaves fewer than 8 bits in the state. Writes up to 8 bytes past its output.
   */
  emit(inEnd: number): void;
  /** Adds the bytes in [at, end), four at a time while four remain, to the tables at HIST_AT; leaves where it stopped at STATE_AT + 8. */
  histogram(at: number, end: number): void;
}

/** The kernels, or null where WebAssembly is missing. */
export const huffmanKernels: HuffmanKernels | null = (() => {
  if (typeof WebAssembly === 'undefined') return null;
  const bytes = buildModule();
  if (!WebAssembly.validate(bytes)) return null;
  const memory = new WebAssembly.Memory({ initial: Math.ceil(DATA_AT / 65536) });
  const { runs, emit, histogram } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
    .exports;
  return {
    memory,
    runs: runs as HuffmanKernels['runs'],
    emit: emit as HuffmanKernels['emit'],
    histogram: histogram as HuffmanKernels['histogram'],
  };
})();

/** The kernels' memory as bytes, grown to at least `bytes` (false where it cannot grow). */
export function reserve(kernels: HuffmanKernels, bytes: number): boolean {
  const { memory } = kernels;
  if (memory.buffer.byteLength >= bytes) return true;
  try {
    memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
    return true;
  } catch {
    return false;
  }
}

/** The low `len` bits of `code` in reverse order: DEFLATE sends a Huffman code's most significant bit first. */
export function reverseBits(code: number, len: number): number {
  let r = 0;
  for (let i = 0; i < len; i++, code >>= 1) r = (r << 1) | (code & 1);
  return r;
}
