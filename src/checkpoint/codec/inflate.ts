/**
 * The one DEFLATE (RFC 1951) decoding this package does itself: streams of literals whose
 * codes are at most 10 bits long, as its own encoder writes the byte planes of
 * shuffle-deflate (huffman-deflate.ts). There zlib decodes one literal per table lookup;
 * here one lookup yields up to four (the trick of libdeflate's and zstd's Huffman
 * decoders), in a WebAssembly loop (huffman-wasm.ts): `npm run bench -- deflate` prints its
 * ratio to zlib. Every other stream (matches, fixed codes, longer codes, no WebAssembly,
 * over 16 MiB) is declined, and deflate.ts hands it to zlib or fflate: zlib decodes
 * long-coded literals faster than a bit-by-bit walk here does.
 *
 * Safety: the output is a caller-sized array that is never written past (a longer stream is
 * an error, not an allocation), reads past the input are detected, and every malformed
 * construct raises InflateError naming the input byte where decoding stopped.
 */
import { WaypointError } from '../../errors.js';
import {
  DATA_AT,
  type HuffmanKernels,
  RUN_BITS,
  RUN_META_AT,
  RUNS_AT,
  RUNS_PER_REFILL,
  STATE_AT,
  huffmanKernels,
  reserve,
  reverseBits,
} from './huffman-wasm.js';

export class InflateError extends WaypointError {
  /** `byteOffset`: the input byte where decoding stopped, where the decoder knows it. */
  constructor(
    message: string,
    readonly byteOffset?: number,
  ) {
    super(byteOffset === undefined ? message : `${message} (at input byte ${byteOffset})`);
  }
}

/** The order in which a dynamic block lists the code lengths of the code-length alphabet. */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const MAX_BITS = 15;
/** Bits indexed by the one-lookup tables: the longest code this decoder takes. */
const TABLE_BITS = 10;
const TABLE_MASK = (1 << TABLE_BITS) - 1;
const END_OF_BLOCK = 256;
/** A literal/length alphabet this long has no length symbols: the block holds literals only. */
const LITERALS_ONLY = 257;

/**
 * A canonical Huffman code whose codes fit in TABLE_BITS, ready to decode. Its table is
 * rebuilt in place for each block: a plane has dozens of blocks per megabyte, and fresh
 * typed arrays for each (off-heap memory the garbage collector must track) cost more than
 * the decoding.
 */
class Code {
  /** Indexed by the next TABLE_BITS input bits: symbol << 4 | code length, or 0 for a pattern no code starts. */
  readonly single = new Int32Array(1 << TABLE_BITS);
  private readonly counts = new Uint16Array(MAX_BITS + 1);

  /** Builds the table; false when a code is longer than the table (not a stream for this decoder). */
  build(lengths: Uint8Array, at: number): boolean {
    const { counts, single } = this;
    counts.fill(0);
    for (let s = 0; s < lengths.length; s++) counts[lengths[s]]++;
    counts[0] = 0;
    let left = 1;
    for (let len = 1; len <= MAX_BITS; len++) {
      left = (left << 1) - counts[len];
      if (left < 0) throw new InflateError('over-subscribed Huffman code', at);
    }
    for (let len = TABLE_BITS + 1; len <= MAX_BITS; len++) if (counts[len] !== 0) return false;
    // Incomplete codes are accepted (zlib accepts them for a lone distance code); the bit
    // patterns they leave unused decode to an error.
    single.fill(0);
    for (let len = 1, code = 0; len <= TABLE_BITS; len++, code <<= 1) {
      for (let s = 0; s < lengths.length; s++) {
        if (lengths[s] !== len) continue;
        // Codes are packed starting at their most significant bit: index by the reversed code.
        for (let j = reverseBits(code, len); j < 1 << TABLE_BITS; j += 1 << len) single[j] = (s << 4) | len;
        code++;
      }
    }
    return true;
  }
}

/**
 * The input as a stream of bits, least significant first. The buffer never holds more than
 * 31 bits, so it stays a non-negative int32 and shifts can use `>>`.
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
    if (e === 0) {
      this.checkEnd();
      throw new InflateError('bit pattern matches no Huffman code', this.byteOffset);
    }
    this.bits >>= e & 15;
    this.count -= e & 15;
    return e >> 4;
  }
}

/**
 * The WebAssembly kernel's table (huffman-wasm.ts): indexed by the next RUN_BITS bits, the
 * run of up to four literals whose codes fit in them, bytes in `literals` and, in `meta`,
 * how many (bits 0-2; 0 when the next symbol is not a literal that fits) and the bits they
 * use (bits 3-6). Its 20 KiB live in the kernel's memory, where the kernel reads them.
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

/** The codes of the current block, rebuilt for each (decoding is synchronous: one set serves every call). */
const literalCode = new Code();
const distanceCode = new Code();
const codeLengthCode = new Code();
const lengths = new Uint8Array(286 + 30);
const codeLengthLengths = new Uint8Array(19);

/** Reads a dynamic block's codes into `literalCode`; false when the block is not literals with short codes. */
function readLiteralCode(r: BitReader): boolean {
  const literalCount = r.take(5) + 257;
  const distanceCount = r.take(5) + 1;
  const lengthCodeCount = r.take(4) + 4;
  if (literalCount > 286 || distanceCount > 30)
    throw new InflateError('too many length or distance symbols', r.byteOffset);
  if (literalCount !== LITERALS_ONLY) return false;
  codeLengthLengths.fill(0);
  for (let i = 0; i < lengthCodeCount; i++) codeLengthLengths[CODE_LENGTH_ORDER[i]] = r.take(3);
  codeLengthCode.build(codeLengthLengths, r.byteOffset); // 3-bit lengths: always fits the table
  const total = literalCount + distanceCount;
  for (let i = 0; i < total;) {
    r.checkEnd();
    const symbol = r.decode(codeLengthCode);
    if (symbol < 16) {
      lengths[i++] = symbol;
      continue;
    }
    let repeat: number,
      value = 0;
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
  // The distance code is never used by a block of literals, but checked as zlib checks it.
  distanceCode.build(lengths.subarray(literalCount, total), r.byteOffset);
  return literalCode.build(lengths.subarray(0, literalCount), r.byteOffset);
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
 * Streams whose input and output together fit in this many bytes decode in the memory of
 * the WebAssembly kernels (which keeps its size: planes of tensors up to 16M values).
 */
const WASM_MAX_BYTES = 16 << 20;

/**
 * Inflates the raw DEFLATE stream `input` into `out` when it is a stream this decoder is
 * for (see the top of the file): returns the number of bytes written, or null to decline
 * (`out` may then hold partial output). Throws InflateError for a malformed or truncated
 * stream, for bytes left after the final block, and for output that would not fit.
 */
export function inflateLiterals(input: Uint8Array, out: Uint8Array): number | null {
  const kernels = huffmanKernels;
  if (!kernels || input.length + out.length > WASM_MAX_BYTES || !looksLiteral(input)) return null;
  const inAt = DATA_AT;
  const outAt = inAt + ((input.length + 15) & ~7);
  if (!reserve(kernels, outAt + out.length + 8)) return null;
  // The input is copied into the kernel's memory, the output decoded there and copied out.
  const bytes = new Uint8Array(kernels.memory.buffer);
  bytes.set(input, inAt);
  const produced = decodeStream(
    kernels,
    bytes.subarray(inAt, inAt + input.length),
    bytes.subarray(outAt, outAt + out.length),
    inAt,
    outAt,
  );
  if (produced !== null) out.set(bytes.subarray(outAt, outAt + produced));
  return produced;
}

/** Whether the first block is dynamic with no length symbols: the cheap test before copying the input. */
function looksLiteral(input: Uint8Array): boolean {
  return input.length >= 2 && ((input[0] >> 1) & 3) === 2 && (input[0] >> 3) + 257 === LITERALS_ONLY;
}

/** Decodes `input` (at `inAt` in the kernel's memory) into `out` (at `outAt`); null to decline. */
function decodeStream(
  kernels: HuffmanKernels,
  input: Uint8Array,
  out: Uint8Array,
  inAt: number,
  outAt: number,
): number | null {
  const { memory } = kernels;
  const runLiterals = new Int32Array(memory.buffer, RUNS_AT, 1 << RUN_BITS);
  const runMeta = new Uint8Array(memory.buffer, RUN_META_AT, 1 << RUN_BITS);
  const state = new Int32Array(memory.buffer, STATE_AT, 4);
  // The kernel loads eight input bytes at a time, and stores four output bytes per lookup,
  // RUNS_PER_REFILL lookups between its checks of the limits.
  const inLast = inAt + input.length - 8;
  const outLast = outAt + out.length - 4 * RUNS_PER_REFILL;
  const runKernel = (r: BitReader, o: number): number => {
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
  };

  const r = new BitReader(input);
  let op = 0;
  let final = 0;
  while (final === 0) {
    r.checkEnd();
    final = r.take(1);
    const type = r.take(2);
    if (type === 0) {
      op = copyStoredBlock(r, out, op);
      continue;
    }
    if (type === 3) throw new InflateError('invalid block type 3', r.byteOffset);
    if (type === 1 || !readLiteralCode(r)) return null;
    buildWideRuns(literalCode.single, runLiterals, runMeta);
    for (;;) {
      // The kernel stops at the end-of-block code, and near the end of either buffer, where
      // the symbols are decoded here one at a time.
      op = runKernel(r, op);
      const symbol = r.decode(literalCode);
      if (symbol === END_OF_BLOCK) break;
      if (op >= out.length) {
        r.checkEnd();
        throw new InflateError(`output would exceed ${out.length} bytes`, r.byteOffset);
      }
      out[op++] = symbol;
    }
  }
  r.checkEnd();
  if (r.byteOffset < input.length)
    throw new InflateError(`${input.length - r.byteOffset} bytes follow the final block`, r.byteOffset);
  return op;
}
