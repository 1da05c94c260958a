/**
 * A DEFLATE (RFC 1951) encoder for the byte planes of shuffle-deflate: literals only, one
 * dynamic Huffman block per 256 KiB, codes at most 10 bits long. Any inflater reads the
 * result; this package's own (inflate.ts) reads it fastest, because every code fits its
 * one-lookup table and a block's tables are built once per 256 KiB, where zlib's
 * Huffman-only mode starts a new block (and table) every 16K bytes. Byte planes have no
 * repeats for LZ77 to find, so this loses nothing against zlib's compression, at several
 * times zlib's speed (bench/checkpoint-io.ts). The loops over a block's bytes (counting
 * them, writing their codes) run as WebAssembly (huffman-wasm.ts) where there is WebAssembly.
 */
import {
  DATA_AT,
  HIST_AT,
  type HuffmanKernels,
  PAIRS_AT,
  STATE_AT,
  huffmanKernels,
  reserve,
  reverseBits,
} from './huffman-wasm.js';

/** Longest code emitted: the decoder's table width, so every literal decodes in one lookup. */
export const MAX_CODE_BITS = 10;
/** Bytes per block: each gets its own code, so planes whose statistics drift still compress. */
const BLOCK = 1 << 18;
const END_OF_BLOCK = 256;
/** The order in which a dynamic block lists the code lengths of the code-length alphabet. */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/**
 * Huffman code lengths for `freq` (symbols of frequency 0 get none), no longer than
 * `maxBits`: an optimal code from the two-queue construction, then, if too deep, the
 * lengths redistributed as in JPEG (ITU T.81 K.3), which keeps the code complete.
 */
export function codeLengths(freq: ArrayLike<number>, maxBits: number): Uint8Array {
  const n = freq.length;
  const lengths = new Uint8Array(n);
  const used = Array.from({ length: n }, (_, s) => s)
    .filter((s) => freq[s] > 0)
    .sort((a, b) => freq[a] - freq[b] || a - b);
  if (used.length === 0) return lengths;
  if (used.length === 1) {
    lengths[used[0]] = 1;
    return lengths;
  }
  // Two queues: leaves by frequency, merged nodes in creation order (also by frequency).
  const weight: number[] = used.map((s) => freq[s]);
  const parent: number[] = new Array(2 * used.length - 1).fill(-1);
  let leaf = 0;
  let node = used.length;
  let merged = used.length;
  const smallest = () => (leaf < used.length && (merged >= node || weight[leaf] <= weight[merged]) ? leaf++ : merged++);
  for (; node < 2 * used.length - 1; node++) {
    const a = smallest();
    const b = smallest();
    weight[node] = weight[a] + weight[b];
    parent[a] = parent[b] = node;
  }
  const depth = new Array(2 * used.length - 1).fill(0);
  for (let i = 2 * used.length - 3; i >= 0; i--) depth[i] = depth[parent[i]] + 1;
  const deepest = Math.max(...depth.slice(0, used.length));
  const count = new Array(Math.max(deepest, maxBits) + 1).fill(0);
  for (let i = 0; i < used.length; i++) count[depth[i]]++;
  for (let len = deepest; len > maxBits; len--) {
    while (count[len] > 0) {
      // Two leaves at `len` become one at len - 1 and its sibling moves under a shallower leaf.
      let j = len - 2;
      while (count[j] === 0) j--;
      count[len] -= 2;
      count[len - 1] += 1;
      count[j + 1] += 2;
      count[j] -= 1;
    }
  }
  // Shortest codes to the most frequent symbols (`used` is in ascending frequency).
  let i = used.length - 1;
  for (let len = 1; len <= maxBits; len++) for (let k = 0; k < count[len]; k++) lengths[used[i--]] = len;
  return lengths;
}

/** Canonical codes for `lengths`, bit-reversed: DEFLATE sends a code's most significant bit first. */
function reversedCodes(lengths: Uint8Array): Uint16Array {
  const count = new Uint16Array(16);
  for (const l of lengths) count[l]++;
  count[0] = 0;
  const next = new Uint16Array(16);
  for (let len = 1, code = 0; len < 16; len++) {
    code = (code + count[len - 1]) << 1;
    next[len] = code;
  }
  const codes = new Uint16Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) {
    const len = lengths[s];
    if (len === 0) continue;
    codes[s] = reverseBits(next[len]++, len);
  }
  return codes;
}

class BitWriter {
  acc = 0;
  count = 0;
  at = 0;
  constructor(readonly out: Uint8Array) {}

  /** Appends the low `n` (≤ 16) bits of `value`. */
  put(value: number, n: number): void {
    this.acc |= value << this.count;
    this.count += n;
    while (this.count >= 8) {
      this.out[this.at++] = this.acc;
      this.acc >>>= 8;
      this.count -= 8;
    }
  }

  flush(): void {
    if (this.count > 0) this.out[this.at++] = this.acc;
    this.acc = 0;
    this.count = 0;
  }
}

/**
 * Code lengths as the code-length alphabet sends them: 0–15 literally, 16 = repeat the
 * previous 3–6 times, 17 = 3–10 zeros, 18 = 11–138 zeros. Returns [symbol, extra] pairs.
 */
function runLengthCode(lengths: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < lengths.length;) {
    const v = lengths[i];
    let run = 1;
    while (i + run < lengths.length && lengths[i + run] === v) run++;
    i += run;
    if (v === 0) {
      while (run >= 11) {
        const r = Math.min(run, 138);
        out.push([18, r - 11]);
        run -= r;
      }
      if (run >= 3) {
        out.push([17, run - 3]);
        run = 0;
      }
    } else {
      out.push([v, 0]);
      run--;
      while (run >= 3) {
        const r = Math.min(run, 6);
        out.push([16, r - 3]);
        run -= r;
      }
    }
    for (; run > 0; run--) out.push([v, 0]);
  }
  return out;
}

const EXTRA_BITS: Record<number, number> = { 16: 2, 17: 3, 18: 7 };

/** Byte counts (and one end-of-block) from four tables of 256, one per byte of a 4-byte step. */
function sumTables(t: Uint32Array | Int32Array): Uint32Array {
  const freq = new Uint32Array(257);
  for (let v = 0; v < 256; v++) freq[v] = t[v] + t[256 + v] + t[512 + v] + t[768 + v];
  freq[END_OF_BLOCK] = 1;
  return freq;
}

function writeBlock(w: BitWriter, bytes: Uint8Array, final: boolean, coder: BlockCoder): void {
  const freq = coder.histogram(bytes);
  const literalLengths = codeLengths(freq, MAX_CODE_BITS);
  const literalCount = 257; // literals and end-of-block: no length symbols
  // No matches, but two one-bit distance codes, as zlib sends: some inflaters reject none.
  const all = new Uint8Array(literalCount + 2);
  all.set(literalLengths.subarray(0, literalCount));
  all[literalCount] = all[literalCount + 1] = 1;
  const rle = runLengthCode(all);
  const clFreq = new Uint32Array(19);
  for (const [s] of rle) clFreq[s]++;
  if (clFreq.filter((f) => f > 0).length < 2) clFreq[clFreq[0] > 0 ? 1 : 0] = 1; // a one-symbol code is incomplete; zlib rejects it here
  const clLengths = codeLengths(clFreq, 7);
  const clCodes = reversedCodes(clLengths);
  let clCount = 19;
  while (clCount > 4 && clLengths[CODE_LENGTH_ORDER[clCount - 1]] === 0) clCount--;

  w.put(final ? 1 : 0, 1);
  w.put(2, 2);
  w.put(literalCount - 257, 5);
  w.put(2 - 1, 5);
  w.put(clCount - 4, 4);
  for (let i = 0; i < clCount; i++) w.put(clLengths[CODE_LENGTH_ORDER[i]], 3);
  for (const [s, extra] of rle) {
    w.put(clCodes[s], clLengths[s]);
    if (s >= 16) w.put(extra, EXTRA_BITS[s]);
  }

  const codes = reversedCodes(literalLengths);
  coder.literals(w, bytes, codes, literalLengths);
  w.put(codes[END_OF_BLOCK], literalLengths[END_OF_BLOCK]);
}

/**
 * Fills `pairs` for a block's literals, coded two per lookup: both codes of each byte pair,
 * concatenated (at most 20 bits), with their total length above. Only the pairs of bytes
 * this block uses are filled in; the others are never looked up.
 */
function fillPairs(pairs: Int32Array, codes: Uint16Array, lengths: Uint8Array): void {
  const used: number[] = [];
  for (let v = 0; v < 256; v++) if (lengths[v] > 0) used.push(v);
  for (const a of used)
    for (const b of used) pairs[a | (b << 8)] = codes[a] | (codes[b] << lengths[a]) | ((lengths[a] + lengths[b]) << 20);
}

/** The two loops over a block's bytes: counting them, and writing their codes. */
interface BlockCoder {
  histogram(bytes: Uint8Array): Uint32Array;
  literals(w: BitWriter, bytes: Uint8Array, codes: Uint16Array, lengths: Uint8Array): void;
}

/** The most bytes deflateLiterals writes for `length` input bytes: every literal at the longest code, plus each block's header (under 300 bytes). */
export function deflateLiteralsBound(length: number): number {
  return Math.ceil((length * MAX_CODE_BITS) / 8) + 320 * Math.max(1, Math.ceil(length / BLOCK)) + 8;
}

/**
 * `bytes` as a raw DEFLATE stream of Huffman-coded literals, written into `out`
 * (deflateLiteralsBound bytes at least); null where there is no WebAssembly (or its memory
 * cannot grow), for the caller to hand the bytes to zlib or fflate instead.
 */
export function deflateLiterals(
  bytes: Uint8Array,
  out: Uint8Array = new Uint8Array(deflateLiteralsBound(bytes.length)),
): Uint8Array | null {
  const coder = huffmanKernels ? wasmCoder(huffmanKernels) : null;
  return coder && deflateWith(bytes, out, coder);
}

/**
 * The WebAssembly loops, one block at a time: the block is copied into the kernels' memory,
 * its codes written there and copied out after the bytes the header left in `w.out`. So
 * planes of any size take this path, in under a megabyte of the kernels' memory. Null
 * when that memory cannot grow by as much.
 */
function wasmCoder(kernels: HuffmanKernels): BlockCoder | null {
  const inAt = DATA_AT;
  const outAt = inAt + BLOCK;
  // The kernel stores 8 bytes at a time: room for them past a block's longest codes.
  if (!reserve(kernels, outAt + deflateLiteralsBound(BLOCK) + 16)) return null;
  const { buffer } = kernels.memory;
  const memory = new Uint8Array(buffer);
  const pairs = new Int32Array(buffer, PAIRS_AT, 1 << 16);
  const tables = new Int32Array(buffer, HIST_AT, 4 * 256);
  const state = new Int32Array(buffer, STATE_AT, 4);
  let loaded: Uint8Array | null = null;
  const load = (block: Uint8Array) => {
    if (loaded !== block) memory.set(block, inAt);
    loaded = block;
  };
  return {
    histogram(block) {
      load(block);
      tables.fill(0);
      kernels.histogram(inAt, inAt + block.length);
      for (let i = state[2] - inAt; i < block.length; i++) tables[block[i]]++;
      return sumTables(tables);
    },
    literals(w, block, codes, lengths) {
      load(block);
      fillPairs(pairs, codes, lengths);
      state[0] = w.acc;
      state[1] = w.count;
      state[2] = inAt;
      state[3] = outAt;
      kernels.emit(inAt + block.length);
      // The whole bytes it wrote follow those in w.out; the bits of a partial one stay in the buffer.
      const written = state[3] - outAt;
      w.out.set(memory.subarray(outAt, outAt + written), w.at);
      w.at += written;
      w.acc = state[0];
      w.count = state[1];
      for (let i = state[2] - inAt; i < block.length; i++) w.put(codes[block[i]], lengths[block[i]]);
    },
  };
}

function deflateWith(bytes: Uint8Array, out: Uint8Array, coder: BlockCoder): Uint8Array {
  const blocks = Math.max(1, Math.ceil(bytes.length / BLOCK));
  const w = new BitWriter(out);
  for (let b = 0; b < blocks; b++) writeBlock(w, bytes.subarray(b * BLOCK, (b + 1) * BLOCK), b === blocks - 1, coder);
  w.flush();
  return w.out.subarray(0, w.at);
}
