/**
 * The literal-run loop of inflate.ts as a WebAssembly function. It reads the same table
 * (up to three literals per lookup, see LiteralRuns there), from a 64-bit bit buffer
 * refilled four bytes at a time, and stores the literals of each lookup with one 32-bit
 * store. The table, the input and the output live in its memory: inflate.ts copies the
 * input in and the output out, and runs everything else (block headers, matches, codes
 * longer than the table, the last bytes of either buffer) in JavaScript.
 */
import { I32, I64, encodeModule, op } from '../../kernels/cpu/wasm-asm.js';

/** Where the block's table of literal runs goes (1024 int32). */
export const RUNS_AT = 0;
/** The bit reader's state, handed over both ways: bits, bit count, input position, output position. */
export const STATE_AT = 4096;
/** Where the input, then the output, go. */
export const DATA_AT = 8192;

// Parameters: the last input address a 4-byte load may start at, the last output address a
// 4-byte store may start at. Locals: the bit count, the input and output addresses, the
// table entry, the bits it uses, and the bit buffer.
const [IN_LAST, OUT_LAST, COUNT, IN, OUT, ENTRY, USED, BITS] = [0, 1, 2, 3, 4, 5, 6, 7];
const get = op.get;
const state = (k: number) => [op.i32(STATE_AT), op.load(4 * k)];

function buildModule(): Uint8Array<ArrayBuffer> {
  const body = [
    ...state(0), op.i64ExtendI32U, op.set(BITS),
    ...state(1), op.set(COUNT),
    ...state(2), op.set(IN),
    ...state(3), op.set(OUT),
    op.block, op.loop,
    get(OUT), get(OUT_LAST), op.gtS, op.brIf(1),
    // Fewer than 32 bits buffered: four more bytes, unless the input is nearly done.
    get(COUNT), op.i32(32), op.ltS, op.if,
    get(IN), get(IN_LAST), op.gtS, op.brIf(2),
    get(BITS), get(IN), op.load(0), op.i64ExtendI32U, get(COUNT), op.i64ExtendI32U, op.i64Shl, op.i64Or, op.set(BITS),
    get(IN), op.i32(4), op.add, op.set(IN),
    get(COUNT), op.i32(32), op.add, op.set(COUNT),
    op.end,
    // entry = runs[bits & 1023]; 0: not a run of literals, JavaScript decodes it.
    get(BITS), op.i32WrapI64, op.i32(1023), op.and, op.i32(2), op.shl, op.load(RUNS_AT), op.tee(ENTRY), op.eqz, op.brIf(1),
    // The literals in bytes 0-2; the store's fourth byte is overwritten by what follows.
    get(OUT), get(ENTRY), op.store(0),
    get(OUT), get(ENTRY), op.i32(24), op.shrU, op.i32(3), op.and, op.add, op.set(OUT),
    get(ENTRY), op.i32(26), op.shrU, op.set(USED),
    get(BITS), get(USED), op.i64ExtendI32U, op.i64ShrU, op.set(BITS),
    get(COUNT), get(USED), op.sub, op.set(COUNT),
    op.br(0),
    op.end, op.end,
    // Whole bytes still buffered go back to the input, so the JavaScript reader holds < 8 bits.
    op.i32(STATE_AT), get(BITS), op.i32WrapI64, op.i32(1), get(COUNT), op.i32(7), op.and, op.shl, op.i32(1), op.sub, op.and, op.store(0),
    op.i32(STATE_AT), get(COUNT), op.i32(7), op.and, op.store(4),
    op.i32(STATE_AT), get(IN), get(COUNT), op.i32(3), op.shrU, op.sub, op.store(8),
    op.i32(STATE_AT), get(OUT), op.store(12),
  ];
  return encodeModule([{ exportName: 'runs', params: [I32, I32], locals: [[5, I32], [1, I64]], body }]);
}

export interface LiteralRunsKernel {
  memory: WebAssembly.Memory;
  /** Decodes runs of literals from the state at STATE_AT until one of the limits, or a symbol that is not a run. */
  runs(inLast: number, outLast: number): void;
}

/** The kernel, or null where WebAssembly is missing. */
export const literalRunsKernel: LiteralRunsKernel | null = (() => {
  if (typeof WebAssembly === 'undefined') return null;
  const bytes = buildModule();
  if (!WebAssembly.validate(bytes)) return null;
  const memory = new WebAssembly.Memory({ initial: 1 });
  const { runs } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
  return { memory, runs: runs as LiteralRunsKernel['runs'] };
})();
