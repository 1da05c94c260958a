/**
 * A DEFLATE (RFC 1951) decoder tuned for the byte planes of shuffle-deflate: planes are
 * Huffman-coded literals at 2–3 bits per byte, where zlib decodes one literal per table
 * lookup. Here one lookup yields several literals at once (the trick of libdeflate's and
 * zstd's Huffman decoders), so a plane decodes faster than zlib inflates it. The loop over
 * those lookups runs as WebAssembly (huffman-wasm.ts: a 2^12-entry table, up to four
 * literals per lookup) where the stream fits its memory, else here (2^10 entries, up to
 * three). Every other part of the format (stored and fixed blocks, matches, codes longer
 * than the table) takes a plain path, so any valid stream decodes.
 *
 * Safety: the output is a caller-sized array that is never written past (a longer stream is
 * an error, not an allocation), reads past the input are detected, and every malformed
 * construct raises InflateError naming the input byte where decoding stopped.
 */
import { DATA_AT, type HuffmanKernels, RUN_BITS, RUN_META_AT, RUNS_AT, RUNS_PER_REFILL, STATE_AT, huffmanKernels, reserve } from './huffman-wasm.js';

export class InflateError extends Error {
  constructor(message: string, readonly byteOffset: number) {
    super(`${message} (at input byte ${byteOffset})`);
    this.name = 'InflateError';
  }
}

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/** The order in which a dynamic block lists the code lengths of the code-length alphabet. */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const MAX_BITS = 15;
/** Bits indexed by the one-lookup tables: codes up to this long decode in one step. */
const TABLE_BITS = 10;
const TABLE_MASK = (1 << TABLE_BITS) - 1;
const END_OF_BLOCK = 256;

/**
 * A canonical Huffman code, ready to decode. Its tables are rebuilt in place for each block:
 * a plane has dozens of blocks per megabyte, and allocating fresh typed arrays for each
 * (off-heap memory the garbage collector must track) cost more than the decoding.
 */
class Code {
  /** Indexed by the next TABLE_BITS input bits: symbol << 4 | code length, or 0 when the code is longer. */
  readonly single = new Int32Array(1 << TABLE_BITS);
  /** Codes per length and symbols in canonical order, for codes longer than TABLE_BITS. */
  readonly counts = new Uint16Array(MAX_BITS + 1);
  readonly symbols = new Uint16Array(288);
  /** Per length: the first canonical code of that length, and where its symbols start in `symbols`. */
  readonly firstCode = new Int32Array(MAX_BITS + 1);
  readonly firstIndex = new Int32Array(MAX_BITS + 1);
  private readonly offsets = new Uint16Array(MAX_BITS + 2);

  build(lengths: Uint8Array, at: number): this {
    const { counts, offsets, symbols, single } = this;
    counts.fill(0);
    for (let s = 0; s < lengths.length; s++) counts[lengths[s]]++;
    counts[0] = 0;
    let left = 1;
    for (let len = 1; len <= MAX_BITS; len++) {
      left = (left << 1) - counts[len];
      if (left < 0) throw new InflateError('over-subscribed Huffman code', at);
    }
    // Incomplete codes are accepted (zlib accepts them for a lone distance code); the bit
    // patterns they leave unused decode to an error.
    offsets[1] = 0;
    for (let len = 1; len <= MAX_BITS; len++) offsets[len + 1] = offsets[len] + counts[len];
    for (let len = 1, first = 0; len <= MAX_BITS; len++) {
      first = (first + counts[len - 1]) << 1;
      this.firstCode[len] = first;
      this.firstIndex[len] = offsets[len];
    }
    for (let s = 0; s < lengths.length; s++) if (lengths[s] !== 0) symbols[offsets[lengths[s]]++] = s;

    single.fill(0);
    let code = 0;
    let index = 0;
    for (let len = 1; len <= TABLE_BITS; len++) {
      for (let k = 0; k < counts[len]; k++, code++, index++) {
        // Codes are packed starting at their most significant bit: index by the reversed code.
        const entry = (symbols[index] << 4) | len;
        for (let j = reverseBits(code, len); j < 1 << TABLE_BITS; j += 1 << len) single[j] = entry;
      }
      code <<= 1;
    }
    return this;
  }
}

/**
 * For the literal/length code: indexed by the next TABLE_BITS bits, the run of up to three
 * literals whose codes fit in them — bytes in bits 0–23, how many in bits 24–25, bits used
 * in bits 26–29 — or 0 when the next symbol is not a literal that fits.
 */
type LiteralRuns = Int32Array;

interface BlockCodes {
  literals: Code;
  distances: Code;
}

/**
 * The input as a stream of bits, least significant first. The buffer never holds more than
 * 31 bits, so it stays a non-negative int32 and shifts can use `>>`: V8 keeps `>>>` results
 * of 2^31 and above as doubles, which made the literal loop 2.5× slower.
 */
class BitReader {
  /** The next byte to load into the buffer; may pass the end, which loads zeros (see checkEnd). */
  position = 0;
  bits = 0;
  count = 0;
  constructor(readonly input: Uint8Array) {}

  /** The first input byte not wholly consumed. */
  get byteOffset(): number {
    return this.position - (this.count >> 3);
  }

  /** Loads whole bytes until at least 24 bits are pending. */
  refill(): void {
    const input = this.input;
    while (this.count <= 23) {
      this.bits |= (this.position < input.length ? input[this.position] : 0) << this.count;
      this.position++;
      this.count += 8;
    }
  }

  take(n: number): number {
    if (this.count < n) this.refill();
    const v = this.bits & ((1 << n) - 1);
    this.bits >>= n;
    this.count -= n;
    return v;
  }

  /** Throws when decoding has consumed bits past the end of the input (it read zeros there). */
  checkEnd(): void {
    if (this.byteOffset > this.input.length) throw new InflateError('stream is truncated', this.input.length);
  }

  /** Drops the bits up to the next byte boundary and hands back the whole bytes still buffered. */
  alignToByte(): void {
    this.position = this.byteOffset;
    this.bits = 0;
    this.count = 0;
  }

  decode(code: Code): number {
    this.refill();
    const e = code.single[this.bits & TABLE_MASK];
    if (e !== 0) {
      this.bits >>= e & 15;
      this.count -= e & 15;
      return e >> 4;
    }
    // Longer than the table: walk the canonical code a bit at a time (RFC 1951 §3.2.2).
    let value = 0, first = 0, index = 0;
    for (let len = 1; len <= MAX_BITS; len++) {
      value |= (this.bits >> (len - 1)) & 1;
      const count = code.counts[len];
      if (value - first < count) {
        this.bits >>= len;
        this.count -= len;
        return code.symbols[index + value - first];
      }
      index += count;
      first = (first + count) << 1;
      value <<= 1;
    }
    this.checkEnd();
    throw new InflateError('bit pattern matches no Huffman code', this.byteOffset);
  }
}

function buildLiteralRuns(single: Int32Array, runs: LiteralRuns): LiteralRuns {
  for (let x = 0; x < 1 << TABLE_BITS; x++) {
    let used = 0;
    let count = 0;
    let bytes = 0;
    while (count < 3) {
      const e = single[x >> used];
      const len = e & 15;
      // Bits above TABLE_BITS - used are unknown here: only a code within the known bits counts.
      if (e === 0 || e >> 4 > 255 || len > TABLE_BITS - used) break;
      bytes |= (e >> 4) << (8 * count);
      count++;
      used += len;
    }
    runs[x] = count === 0 ? 0 : bytes | (count << 24) | (used << 26);
  }
  return runs;
}

/**
 * The WebAssembly kernel's table (huffman-wasm.ts): indexed by the next RUN_BITS bits, the
 * run of up to four literals whose codes fit in them, bytes in `literals` and, in `meta`,
 * how many (bits 0-2; 0 when the next symbol is not a literal that fits) and the bits they
 * use (bits 3-6). On exponent planes it decodes 3.6 literals per lookup, against 2.8 for
 * LiteralRuns; its 20 KiB live in the kernel's memory, where the kernel reads them.
 */
function buildWideRuns(single: Int32Array, literals: Int32Array, meta: Uint8Array): void {
  for (let x = 0; x < 1 << RUN_BITS; x++) {
    let used = 0;
    let count = 0;
    let bytes = 0;
    while (count < 4) {
      const e = single[(x >> used) & TABLE_MASK];
      const len = e & 15;
      // Bits above RUN_BITS - used are unknown here: only a code within the known bits counts.
      if (e === 0 || e >> 4 > 255 || len > RUN_BITS - used) break;
      bytes |= (e >> 4) << (8 * count);
      count++;
      used += len;
    }
    literals[x] = bytes;
    meta[x] = count | (used << 3);
  }
}

/** Each TABLE_BITS-bit value with its bits in reverse order: the first bits of a code, as a number. */
const REVERSED = Int32Array.from({ length: 1 << TABLE_BITS }, (_, x) => reverseBits(x, TABLE_BITS));

function reverseBits(code: number, len: number): number {
  let r = 0;
  for (let i = 0; i < len; i++, code >>= 1) r = (r << 1) | (code & 1);
  return r;
}

let fixed: BlockCodes | undefined;
function fixedCodes(): BlockCodes {
  if (!fixed) {
    const literals = new Code().build(new Uint8Array(288).fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288), 0);
    fixed = { literals, distances: new Code().build(new Uint8Array(30).fill(5), 0) };
  }
  return fixed;
}

/** The codes of dynamic blocks, rebuilt for each (decoding is synchronous: one set serves every call). */
const dynamic: BlockCodes = { literals: new Code(), distances: new Code() };
const codeLengthCode = new Code();
const lengths = new Uint8Array(286 + 30);
const codeLengthLengths = new Uint8Array(19);

function readDynamicCodes(r: BitReader): BlockCodes {
  const literalCount = r.take(5) + 257;
  const distanceCount = r.take(5) + 1;
  const lengthCodeCount = r.take(4) + 4;
  if (literalCount > 286 || distanceCount > 30) throw new InflateError('too many length or distance symbols', r.byteOffset);
  codeLengthLengths.fill(0);
  for (let i = 0; i < lengthCodeCount; i++) codeLengthLengths[CODE_LENGTH_ORDER[i]] = r.take(3);
  codeLengthCode.build(codeLengthLengths, r.byteOffset);
  const total = literalCount + distanceCount;
  for (let i = 0; i < total;) {
    r.checkEnd();
    const symbol = r.decode(codeLengthCode);
    if (symbol < 16) {
      lengths[i++] = symbol;
      continue;
    }
    let repeat: number, value = 0;
    if (symbol === 16) {
      if (i === 0) throw new InflateError('code length repeat with no previous length', r.byteOffset);
      value = lengths[i - 1];
      repeat = 3 + r.take(2);
    } else repeat = symbol === 17 ? 3 + r.take(3) : 11 + r.take(7);
    if (i + repeat > total) throw new InflateError('code lengths overrun the alphabets', r.byteOffset);
    lengths.fill(value, i, i + repeat);
    i += repeat;
  }
  if (lengths[END_OF_BLOCK] === 0) throw new InflateError('no end-of-block code', r.byteOffset);
  dynamic.literals.build(lengths.subarray(0, literalCount), r.byteOffset);
  dynamic.distances.build(lengths.subarray(literalCount, total), r.byteOffset);
  return dynamic;
}

/**
 * The fast path: decodes runs of literals into `out` from `o` on, three output bytes stored
 * per table lookup, until a symbol that is not a literal (or has a long code), or the end
 * of either buffer comes near. Returns the new output position. The reader's state is
 * copied into locals, which V8 keeps in registers.
 */
function decodeLiteralRuns(r: BitReader, out: Uint8Array, o: number, runs: LiteralRuns, code: Code): number {
  const input = r.input;
  const { single, counts, symbols, firstCode, firstIndex } = code;
  let bits = r.bits | 0, count = r.count | 0, i = r.position | 0;
  o |= 0;
  const outEnd = out.length - 3;
  const inEnd = input.length - 2;
  while (o <= outEnd && i <= inEnd) {
    if (count < 16) {
      bits |= (input[i] | (input[i + 1] << 8)) << count;
      i += 2;
      count += 16;
    }
    const e = runs[bits & TABLE_MASK];
    if (e === 0) {
      // A symbol that is not a literal (end of block, a match) is the caller's to decode;
      // a literal with a code longer than the table (zlib writes up to 15 bits) is walked
      // here, bit by bit from the table's width (RFC 1951 §3.2.2).
      if (single[bits & TABLE_MASK] !== 0) break;
      let value = REVERSED[bits & TABLE_MASK];
      let symbol = -1;
      let len = TABLE_BITS;
      while (len < MAX_BITS) {
        len++;
        value = (value << 1) | ((bits >> (len - 1)) & 1);
        const k = value - firstCode[len];
        if (k >= 0 && k < counts[len]) {
          symbol = symbols[firstIndex[len] + k];
          break;
        }
      }
      if (symbol < 0 || symbol > 255) break;
      out[o++] = symbol;
      bits >>= len;
      count -= len;
      continue;
    }
    out[o] = e;
    out[o + 1] = e >> 8;
    out[o + 2] = e >> 16;
    o += (e >> 24) & 3;
    const used = e >> 26;
    bits >>= used;
    count -= used;
  }
  r.bits = bits;
  r.count = count;
  r.position = i;
  return o;
}

/** Decodes runs of literals from `o` on and returns the new output position (see decodeLiteralRuns). */
interface FastPath {
  /** Called as a block starts, with its literal/length code: builds the path's table of runs. */
  startBlock(code: Code): void;
  decode(r: BitReader, out: Uint8Array, o: number, code: Code): number;
}

/** The JavaScript path's table, rebuilt for each block (decoding is synchronous: one table serves every call). */
const javascriptRuns: LiteralRuns = new Int32Array(1 << TABLE_BITS);
const javascriptPath: FastPath = {
  startBlock: (code) => buildLiteralRuns(code.single, javascriptRuns),
  decode: (r, out, o, code) => decodeLiteralRuns(r, out, o, javascriptRuns, code),
};

/** Decodes one Huffman-coded block's symbols into `out` from `op` on; returns the new position. */
function decodeBlock(r: BitReader, out: Uint8Array, op: number, { literals, distances }: BlockCodes, fast: FastPath): number {
  const overflow = () => {
    r.checkEnd();
    return new InflateError(`output would exceed ${out.length} bytes`, r.byteOffset);
  };
  fast.startBlock(literals);
  for (;;) {
    op = fast.decode(r, out, op, literals);
    const symbol = r.decode(literals);
    if (symbol < 256) {
      if (op >= out.length) throw overflow();
      out[op++] = symbol;
      continue;
    }
    if (symbol === END_OF_BLOCK) return op;
    const lengthCode = symbol - 257;
    if (lengthCode >= 29) throw new InflateError(`invalid length symbol ${symbol}`, r.byteOffset);
    const length = LENGTH_BASE[lengthCode] + r.take(LENGTH_EXTRA[lengthCode]);
    const distanceCode = r.decode(distances);
    if (distanceCode >= 30) throw new InflateError(`invalid distance symbol ${distanceCode}`, r.byteOffset);
    const distance = DIST_BASE[distanceCode] + r.take(DIST_EXTRA[distanceCode]);
    r.checkEnd();
    if (distance > op) throw new InflateError(`match reaches ${distance} bytes back, only ${op} written`, r.byteOffset);
    if (op + length > out.length) throw overflow();
    const from = op - distance;
    if (distance === 1) out.fill(out[from], op, op + length); // a run of one byte: what run-length coding writes
    else if (distance >= length && length >= 32) out.copyWithin(op, from, from + length);
    else for (let k = 0; k < length; k++) out[op + k] = out[from + k]; // an overlapping copy repeats the pattern
    op += length;
  }
}

function copyStoredBlock(r: BitReader, out: Uint8Array, op: number): number {
  r.alignToByte();
  const input = r.input;
  let at = r.position;
  if (at + 4 > input.length) throw new InflateError('stream is truncated', input.length);
  const len = input[at] | (input[at + 1] << 8);
  const nlen = input[at + 2] | (input[at + 3] << 8);
  if ((len ^ 0xffff) !== nlen) throw new InflateError('stored block length does not match its complement', at);
  at += 4;
  if (at + len > input.length) throw new InflateError('stream is truncated', input.length);
  if (op + len > out.length) throw new InflateError(`output would exceed ${out.length} bytes`, at);
  out.set(input.subarray(at, at + len), op);
  r.position = at + len;
  return op + len;
}

/**
 * Whether the stream's first block is Huffman-coded with no length codes at all, as
 * Huffman-only encoders write it (this package's and zlib's): a stream of literals, which
 * this decoder takes fastest. Anything else (or anything malformed) answers false.
 */
export function literalsOnly(input: Uint8Array): boolean {
  try {
    const r = new BitReader(input);
    r.take(1);
    if (r.take(2) !== 2) return false;
    const literalCount = r.take(5) + 257;
    return literalCount === 257;
  } catch {
    return false;
  }
}

/**
 * Inflates the raw DEFLATE stream `input` into `out`, which must have room for all of it.
 * Returns the number of bytes written. Throws InflateError for a malformed or truncated
 * stream, for bytes left after the final block, and for output that would not fit.
 */
export function inflateInto(input: Uint8Array, out: Uint8Array): number {
  const kernels = huffmanKernels;
  if (kernels && input.length + out.length <= WASM_MAX_BYTES) return inflateInWasm(kernels, input, out);
  return inflateWith(input, out, javascriptPath);
}

/**
 * Streams whose input and output together fit in this many bytes decode in the memory of
 * the WebAssembly kernels (which keeps its size: planes of tensors up to 16M values).
 */
const WASM_MAX_BYTES = 16 << 20;

/**
 * Decodes with the WebAssembly literal-run kernel: the input is copied into its memory, the
 * output decoded there (the JavaScript paths work on the same bytes) and copied out.
 */
function inflateInWasm(kernels: HuffmanKernels, input: Uint8Array, out: Uint8Array): number {
  const inAt = DATA_AT;
  const outAt = inAt + ((input.length + 15) & ~7);
  // No memory to grow into: decode in place, in JavaScript.
  if (!reserve(kernels, outAt + out.length + 8)) return inflateWith(input, out, javascriptPath);
  const { memory } = kernels;
  const bytes = new Uint8Array(memory.buffer);
  bytes.set(input, inAt);
  const runLiterals = new Int32Array(memory.buffer, RUNS_AT, 1 << RUN_BITS);
  const runMeta = new Uint8Array(memory.buffer, RUN_META_AT, 1 << RUN_BITS);
  const state = new Int32Array(memory.buffer, STATE_AT, 4);
  // The kernel loads eight input bytes at a time, and stores four output bytes per lookup,
  // RUNS_PER_REFILL lookups between its checks of the limits.
  const inLast = inAt + input.length - 8;
  const outLast = outAt + out.length - 4 * RUNS_PER_REFILL;
  const wasmPath: FastPath = {
    startBlock: (code) => buildWideRuns(code.single, runLiterals, runMeta),
    decode(r, _out, o) {
      // The kernel starts on a byte boundary: whole bytes buffered here go back to the input.
      r.position -= r.count >> 3;
      r.count &= 7;
      r.bits &= (1 << r.count) - 1;
      state[0] = r.bits;
      state[1] = r.count;
      state[2] = inAt + r.position;
      state[3] = outAt + o;
      kernels.runs(inLast, outLast);
      r.bits = state[0];
      r.count = state[1];
      r.position = state[2] - inAt;
      return state[3] - outAt;
    },
  };
  const produced = inflateWith(bytes.subarray(inAt, inAt + input.length), bytes.subarray(outAt, outAt + out.length), wasmPath);
  out.set(bytes.subarray(outAt, outAt + produced));
  return produced;
}

function inflateWith(input: Uint8Array, out: Uint8Array, fast: FastPath): number {
  const r = new BitReader(input);
  let op = 0;
  let final = 0;
  while (final === 0) {
    r.checkEnd();
    final = r.take(1);
    const type = r.take(2);
    if (type === 0) op = copyStoredBlock(r, out, op);
    else if (type === 3) throw new InflateError('invalid block type 3', r.byteOffset);
    else op = decodeBlock(r, out, op, type === 1 ? fixedCodes() : readDynamicCodes(r), fast);
  }
  r.checkEnd();
  if (r.byteOffset < input.length) throw new InflateError(`${input.length - r.byteOffset} bytes follow the final block`, r.byteOffset);
  return op;
}
