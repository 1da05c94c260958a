/**
 * Entry codecs. `raw` stores the little-endian bytes; `deflate` is raw DEFLATE of them;
 * `shuffle-deflate` splits the elements into byte planes (byte k of every element, then
 * byte k+1, ...) and stores each plane raw or deflated (where that saves 3 %). Sign and
 * exponent bytes of trained weights repeat a lot and compress well; low mantissa bytes are
 * noise, and deflating them would cost time for nothing. docs/FORMAT.md §2 has the rules.
 */
import { CheckpointError } from '../../state/errors.js';
import { type Codec, type EntryHeader, type PlaneMethod, DTYPE_SIZE, decodedByteLength } from '../layout/format.js';
import { deflateRaw, deflateRawPieces, havePool, inflateRaw, inflateRawInto, inflatedLength } from './deflate.js';
import { PlaneInflater } from './plane-inflater.js';
import { deflateLiterals, deflateLiteralsBound } from './huffman-deflate.js';
import { crc32 } from '../layout/crc32.js';
import { shuffleInto, unshuffleInto } from './byte-planes.js';
import { recycle, takeScratch } from '../layout/recycler.js';

export interface EncodedPayload {
  parts: Uint8Array[];
  /** Scratch buffers the parts live in: hand them to `recycle` once the parts are written. */
  scratch: Uint8Array[];
  length: number;
  /**
   * CRC-32 of the parts; absent for `raw`, whose one part is the caller's own bytes: the
   * writer checksums them while they are being written instead of before.
   */
  crc32?: number;
  planes?: PlaneMethod[];
  planeLengths?: number[];
}

/** Planes smaller than this are stored raw: deflating them saves a few hundred bytes at most, for a fixed cost per plane at every save and load. */
const MIN_DEFLATED_PLANE = 1024;

export interface EncodeOptions {
  /** DEFLATE level, for the deflate codec and run-length planes (Huffman-coded planes have no matches to search). */
  level: number;
  /**
   * Keep this thread free: Huffman-coded planes go to zlib on the thread pool (where Node
   * has it). Otherwise this package's encoder codes them here, faster than zlib, and its
   * planes decode faster (`npm run bench -- deflate` prints both ratios). A plane handed to
   * the pool came back last and held up the writes, which go in order, so a synchronous save
   * is slower with the pool than without. Background saves set it.
   */
  background: boolean;
}

export async function encodePayload(
  bytes: Uint8Array,
  codec: Codec,
  elementSize: number,
  { level, background }: EncodeOptions,
): Promise<EncodedPayload> {
  if (codec === 'raw') return { parts: [bytes], scratch: [], length: bytes.length };
  if (codec === 'deflate' || elementSize === 1) return finish(await deflateRawPieces(bytes, { level }), []);
  const planes = takeScratch(bytes.length);
  const scratch = [planes];
  shuffleInto(bytes, elementSize, planes);
  const planeLength = bytes.length / elementSize;
  const chosen = await Promise.all(
    Array.from({ length: elementSize }, (_, k) =>
      encodePlane(planes.subarray(k * planeLength, (k + 1) * planeLength), { level, background }, scratch),
    ),
  );
  const methods: PlaneMethod[] = chosen.map((c) => c.method);
  const parts = chosen.map((c) => c.bytes);
  return { ...finish(parts, scratch), planes: methods, planeLengths: parts.map((p) => p.length) };
}

/** One plane of a shuffle-deflate payload, stored raw or deflated; `part` may be the plane itself. */
export interface EncodedPlane {
  method: PlaneMethod;
  part: Uint8Array;
  /** Scratch the part lives in (and what encoding it used): hand it to `recycle` once the part is written. */
  scratch: Uint8Array[];
}

/**
 * A shuffle-deflate payload one plane at a time, for saves that must not hold an entry's
 * encoding whole: each plane is gathered into scratch of a plane's size and encoded as
 * encodePayload would, the next only when the caller asks for it. A caller that writes each
 * part before asking holds one plane and its encoding (writeWpt's `lowMemory`). The parts are
 * the same bytes encodePayload makes.
 */
export async function* encodePlanesInTurn(
  bytes: Uint8Array,
  elementSize: number,
  options: EncodeOptions,
): AsyncGenerator<EncodedPlane> {
  const planeLength = bytes.length / elementSize;
  for (let k = 0; k < elementSize; k++) {
    const plane = takeScratch(planeLength);
    gatherPlane(bytes, elementSize, k, plane);
    const scratch = [plane];
    const { method, bytes: part } = await encodePlane(plane, options, scratch);
    // Only the part's buffer waits for the write: the plane (when deflated) or an unused encoding goes back now.
    recycle(scratch.filter((b) => b.buffer !== part.buffer));
    yield { method, part, scratch: scratch.filter((b) => b.buffer === part.buffer) };
  }
}

/** Plane `k` of `bytes` (byte k of every element) into `out`: as shuffleInto's plane k, alone. */
function gatherPlane(bytes: Uint8Array, elementSize: number, k: number, out: Uint8Array): void {
  const n = out.length;
  if (elementSize !== 4 || bytes.byteOffset % 4 !== 0 || out.byteOffset % 4 !== 0) {
    for (let i = 0, j = k; i < n; i++, j += elementSize) out[i] = bytes[j];
    return;
  }
  // Four elements' bytes k make one word of the plane: a quarter of the stores.
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, n);
  const packed = new Uint32Array(out.buffer, out.byteOffset, n >>> 2);
  const shift = 8 * k;
  for (let i = 0, j = 0; i < packed.length; i++, j += 4) {
    packed[i] =
      ((words[j] >>> shift) & 255) |
      (((words[j + 1] >>> shift) & 255) << 8) |
      (((words[j + 2] >>> shift) & 255) << 16) |
      (((words[j + 3] >>> shift) & 255) << 24);
  }
  for (let i = packed.length * 4; i < n; i++) out[i] = bytes[4 * i + k];
}

/** Deflated where that saves 3 %, else stored raw; buffers it takes go into `scratch`. */
async function encodePlane(
  plane: Uint8Array,
  { level, background }: EncodeOptions,
  scratch: Uint8Array[],
): Promise<{ method: PlaneMethod; bytes: Uint8Array }> {
  const bits = entropyBitsPerByte(plane);
  // Mostly one value (zeros, constant exponents): runs pay; otherwise Huffman coding alone does.
  const packed =
    bits >= 8 * 0.97 || plane.length < MIN_DEFLATED_PLANE
      ? null
      : bits < 1
        ? await deflateRaw(plane, { level, strategy: 'rle', background })
        : await huffmanCoded();
  // Deflated only where that saves 3 %: each deflated plane costs time on every load.
  return packed !== null && packed.length < 0.97 * plane.length
    ? { method: 'deflate', bytes: packed }
    : { method: 'raw', bytes: plane };

  /** This package's encoder, unless the plane is to go to the pool or there is no WebAssembly: then zlib's (or fflate's). */
  async function huffmanCoded(): Promise<Uint8Array> {
    if (!background || !havePool()) {
      const out = takeScratch(deflateLiteralsBound(plane.length));
      scratch.push(out);
      const ours = deflateLiterals(plane, out);
      if (ours) return ours;
    }
    return deflateRaw(plane, { level, strategy: 'huffman', background });
  }
}

function finish(parts: Uint8Array[], scratch: Uint8Array[]): EncodedPayload {
  let crc = 0;
  let length = 0;
  for (const p of parts) {
    crc = crc32(p, crc);
    length += p.length;
  }
  return { parts, scratch, length, crc32: crc };
}

/**
 * The Shannon entropy of a plane's byte histogram, in bits per byte, from a sample: planes
 * under 7.76 bits (a 3 % saving) are worth deflating.
 */
function entropyBitsPerByte(plane: Uint8Array): number {
  if (plane.length < 64) return plane.length > 0 ? 0 : 8;
  // 8K samples estimate 256 bins well enough; taken as 64 runs of 128 bytes spread over the
  // plane, since a byte here and there would each cost a trip to memory.
  const counts = new Uint32Array(256);
  const run = Math.min(128, Math.floor(plane.length / 64));
  const stride = Math.floor(plane.length / 64);
  let n = 0;
  for (let r = 0; r < 64; r++) for (let i = r * stride, end = i + run; i < end; i++, n++) counts[plane[i]]++;
  let bits = 0;
  for (const c of counts) if (c > 0) bits -= c * Math.log2(c / n);
  return bits / n;
}

export interface VerifyOptions {
  /** Inflates the deflated planes (one per load, shared by its entries); default: one for this entry. */
  inflater?: PlaneInflater;
  /** The payload's CRC-32, computed by the caller as the pieces landed. */
  payloadCrc32: number;
  /**
   * Only check the payload: a `deflate` one is inflated through a stream and counted, never
   * held whole (inflatedLength), and the result cannot decode (its decodeInto throws).
   */
  checkOnly?: boolean;
  /**
   * A `deflate` payload inflates straight into these bytes (the array it decodes into, written
   * before the size is checked: only where a failure may leave it written), streamed, never
   * held whole; decodeInto of these same bytes then has nothing left to do.
   */
  inflateInto?: Uint8Array;
}

/**
 * An entry's stored bytes, checksummed, with every deflated part inflated and its size
 * checked: everything that can fail about a payload has been checked, and decoding it can
 * no longer fail. A load can so verify every entry before it writes into any array.
 */
export interface VerifiedPayload {
  /** Writes the decoded bytes (exactly the entry's decoded size) into `out`, which may be where a raw payload was read. */
  decodeInto(out: Uint8Array): void;
  /** Hands the scratch memory it holds back; nothing may use it afterwards. */
  release(): void;
  /** The decoded bytes, where they already exist in memory of their own (an entry inflated whole): take them instead of a copy. */
  decoded?: Uint8Array;
}

/**
 * Checks the stored bytes of `e` (checksum, then every deflated part inflated to its exact
 * size). `scratch` are buffers the result holds and releases: the payload's, if the caller
 * read it into scratch.
 */
export async function verifyPayload(
  payload: Uint8Array,
  e: EntryHeader,
  file: string,
  { inflater, payloadCrc32, checkOnly = false, inflateInto }: VerifyOptions,
  scratch: Uint8Array[] = [],
): Promise<VerifiedPayload> {
  const ctx = { file, entry: e.key, offset: e.offset };
  const held = [...scratch];
  const release = () => recycle(held.splice(0));
  try {
    if (payloadCrc32 !== e.crc32)
      throw new CheckpointError(
        'CHECKSUM_MISMATCH',
        `stored CRC-32 ${hex(e.crc32)}, computed ${hex(payloadCrc32)}`,
        ctx,
      );
    const expected = decodedByteLength(e);
    const failed = (at: number, cause: unknown) =>
      new CheckpointError(
        'DECOMPRESSED_SIZE_MISMATCH',
        `DEFLATE stream is invalid or inflates past its size: ${(cause as Error).message}`,
        { ...ctx, offset: at, cause },
      );
    const checkLength = (produced: number, length: number, at: number) => {
      if (produced !== length)
        throw new CheckpointError('DECOMPRESSED_SIZE_MISMATCH', `inflated to ${produced} bytes, expected ${length}`, {
          ...ctx,
          offset: at,
        });
    };
    if (e.codec === 'raw') return { decodeInto: (out) => copyInto(payload, out), release };
    if ((e.codec === 'deflate' || DTYPE_SIZE[e.dtype] === 1) && checkOnly) {
      const produced = await inflatedLength(payload, expected).catch((cause: unknown) => {
        throw failed(e.offset, cause);
      });
      checkLength(produced, expected, e.offset);
      return {
        decodeInto: () => {
          throw new Error(`entry '${e.key}' was only checked (checkOnly), not kept to decode`);
        },
        release,
      };
    }
    if (e.codec === 'deflate' && inflateInto !== undefined && inflateInto.length === expected) {
      const produced = await inflateRawInto(payload, inflateInto).catch((cause: unknown) => {
        throw failed(e.offset, cause);
      });
      checkLength(produced, expected, e.offset);
      return { decodeInto: (out) => copyInto(inflateInto, out), release };
    }
    if (e.codec === 'deflate' || DTYPE_SIZE[e.dtype] === 1) {
      const inflated = await inflateRaw(payload, expected).catch((cause: unknown) => {
        throw failed(e.offset, cause);
      });
      checkLength(inflated.length, expected, e.offset);
      return { decodeInto: (out) => out.set(inflated), release, decoded: inflated };
    }

    const size = DTYPE_SIZE[e.dtype];
    const n = expected / size;
    const starts = [0];
    for (const length of e.planeLengths as number[]) starts.push(starts[starts.length - 1] + length);
    const stored = starts.slice(0, size).map((at, k) => payload.subarray(at, starts[k + 1]));
    const planeInflater = inflater ?? new PlaneInflater([e]);
    const inflating = stored.map((s, k) =>
      (e.planes as PlaneMethod[])[k] === 'deflate'
        ? planeInflater.inflate(s, n).catch((cause: unknown) => {
            throw failed(e.offset + starts[k], cause);
          })
        : undefined,
    );
    const inflated = await Promise.all(inflating).catch((err: unknown) => {
      for (const p of inflating)
        p?.then(
          (plane) => plane.scratch && recycle([plane.bytes]),
          () => undefined,
        );
      throw err;
    });
    for (const p of inflated) if (p?.scratch) held.push(p.bytes);
    inflated.forEach((p, k) => p && checkLength(p.bytes.length, n, e.offset + starts[k]));
    return {
      decodeInto: (out) =>
        unshuffleInto(
          stored.map((s, k) => inflated[k]?.bytes ?? s),
          n,
          out.subarray(0, expected),
        ),
      release,
    };
  } catch (err) {
    release();
    throw err;
  }
}

/** `bytes` into `out`, unless they are already there (read in place). */
function copyInto(bytes: Uint8Array, out: Uint8Array): void {
  if (bytes.buffer !== out.buffer || bytes.byteOffset !== out.byteOffset) out.set(bytes);
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
