/**
 * Entry codecs. `raw` stores the little-endian bytes; `deflate` is raw DEFLATE of them;
 * `shuffle-deflate` splits the elements into byte planes (byte k of every element, then
 * byte k+1, ...) and stores each plane raw or deflated, whichever is smaller. Sign and
 * exponent bytes of trained weights repeat a lot and compress well; low mantissa bytes are
 * noise, and deflating them would cost time for nothing.
 */
import { CheckpointError } from './errors.js';
import { type Codec, type EntryHeader, type PlaneMethod, DTYPE_SIZE, decodedByteLength } from './format.js';
import { deflateRaw, inflateRaw } from './deflate.js';
import { crc32 } from './crc32.js';
import { shuffle, unshuffleInto } from './byte-planes.js';
import { allocUninitialized } from './node.js';

export interface EncodedPayload {
  parts: Uint8Array[];
  length: number;
  crc32: number;
  planes?: PlaneMethod[];
  planeLengths?: number[];
}

export async function encodePayload(bytes: Uint8Array, codec: Codec, elementSize: number, level: number): Promise<EncodedPayload> {
  if (codec === 'raw') return finish([bytes]);
  if (codec === 'deflate' || elementSize === 1) return finish([await deflateRaw(bytes, { level })]);
  const planes = shuffle(bytes, elementSize);
  const planeLength = bytes.length / elementSize;
  // Each plane: deflated if that makes it smaller, else stored raw. Planes compress in parallel.
  const chosen = await Promise.all(Array.from({ length: elementSize }, async (_, k) => {
    const plane = planes.subarray(k * planeLength, (k + 1) * planeLength);
    const bits = entropyBitsPerByte(plane);
    // Mostly one value (zeros, constant exponents): runs pay; otherwise Huffman coding alone does.
    const packed = bits < 8 * 0.97 ? await deflateRaw(plane, { level, strategy: bits < 1 ? 'rle' : 'huffman' }) : null;
    return packed !== null && packed.length < plane.length ? { method: 'deflate' as const, bytes: packed } : { method: 'raw' as const, bytes: plane };
  }));
  const methods: PlaneMethod[] = chosen.map((c) => c.method);
  const parts = chosen.map((c) => c.bytes);
  return { ...finish(parts), planes: methods, planeLengths: parts.map((p) => p.length) };
}

function finish(parts: Uint8Array[]): EncodedPayload {
  let crc = 0;
  let length = 0;
  for (const p of parts) {
    crc = crc32(p, crc);
    length += p.length;
  }
  return { parts, length, crc32: crc };
}

/**
 * The Shannon entropy of a plane's byte histogram, in bits per byte, from a sample: planes
 * under 7.76 bits (a 3 % saving) are worth deflating.
 */
function entropyBitsPerByte(plane: Uint8Array): number {
  if (plane.length < 64) return plane.length > 0 ? 0 : 8;
  const counts = new Uint32Array(256);
  const step = Math.max(1, Math.floor(plane.length / 8192)); // 8K samples estimate 256 bins well enough
  let n = 0;
  for (let i = 0; i < plane.length; i += step, n++) counts[plane[i]]++;
  let bits = 0;
  for (const c of counts) if (c > 0) bits -= c * Math.log2(c / n);
  return bits / n;
}

/**
 * Verifies the stored bytes and decodes them to exactly the entry's decoded size. With
 * `into` (room for the decoded bytes; the payload may have been read into its start), the
 * decoded bytes land there.
 */
export async function decodePayload(payload: Uint8Array, e: EntryHeader, file: string, into?: Uint8Array): Promise<Uint8Array> {
  const ctx = { file, entry: e.key, offset: e.offset };
  const actual = crc32(payload);
  if (actual !== e.crc32) {
    throw new CheckpointError('CHECKSUM_MISMATCH', `stored CRC-32 ${hex(e.crc32)}, computed ${hex(actual)}`, ctx);
  }
  const expected = decodedByteLength(e);
  const inflate = async (bytes: Uint8Array, length: number, at: number, literalsMostly: boolean) => {
    let out: Uint8Array;
    try {
      out = await inflateRaw(bytes, length, { literalsMostly });
    } catch (cause) {
      throw new CheckpointError('DECOMPRESSED_SIZE_MISMATCH', `DEFLATE stream is invalid or inflates past ${length} bytes: ${(cause as Error).message}`, { ...ctx, offset: at, cause });
    }
    if (out.length !== length) {
      throw new CheckpointError('DECOMPRESSED_SIZE_MISMATCH', `inflated to ${out.length} bytes, expected ${length}`, { ...ctx, offset: at });
    }
    return out;
  };
  if (e.codec === 'raw') return payload;
  if (e.codec === 'deflate' || DTYPE_SIZE[e.dtype] === 1) return inflate(payload, expected, e.offset, false);
  const size = DTYPE_SIZE[e.dtype];
  const planeLength = expected / size;
  const planes: Array<Uint8Array | Promise<Uint8Array>> = [];
  let at = 0;
  for (let k = 0; k < size; k++) {
    const stored = payload.subarray(at, at + (e.planeLengths as number[])[k]);
    planes.push((e.planes as PlaneMethod[])[k] === 'raw' ? stored : inflate(stored, planeLength, e.offset + at, true));
    at += stored.length;
  }
  const ready = await Promise.all(planes);
  const out = into ? into.subarray(0, expected) : allocUninitialized(expected);
  // Interleaving into the array that holds the stored planes would overwrite planes not yet
  // read: those move to a reused scratch array first (a copy costs a fraction of the page
  // faults a fresh array would).
  if (into && payload.buffer === into.buffer) {
    const spare = scratchFor(size * planeLength);
    ready.forEach((plane, k) => {
      if (plane.buffer !== into.buffer) return;
      ready[k] = spare.subarray(k * planeLength, (k + 1) * planeLength);
      ready[k].set(plane);
    });
  }
  unshuffleInto(ready, planeLength, out);
  if (scratch.length > MAX_KEPT_SCRATCH) scratch = new Uint8Array(0);
  return out;
}

/** Kept between entries (and loads) up to this size; larger ones are let go after use. */
const MAX_KEPT_SCRATCH = 64 << 20;
let scratch: Uint8Array = new Uint8Array(0);
function scratchFor(length: number): Uint8Array {
  if (scratch.length < length) scratch = allocUninitialized(length);
  return scratch;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
