/**
 * The .wpt layout (docs/FORMAT.md): a 16-byte prologue, entry payloads, a JSON header, and
 * a 24-byte trailer that locates the header. The header comes last so a writer can stream
 * entries (offsets, lengths and checksums are known only after compressing them).
 */
import { CheckpointError } from '../../state/errors.js';

export const MAGIC = Uint8Array.of(0x89, 0x57, 0x50, 0x54, 0x0d, 0x0a, 0x1a, 0x0a); // \x89WPT\r\n\x1a\n
export const TRAILER_MAGIC = Uint8Array.of(0x57, 0x50, 0x54, 0x45, 0x4e, 0x44, 0x0d, 0x0a); // WPTEND\r\n
export const FORMAT_MAJOR = 1;
export const FORMAT_MINOR = 0;
export const PROLOGUE_SIZE = 16;
export const TRAILER_SIZE = 24;
/** Readers refuse larger headers before reading them. */
export const MAX_HEADER_BYTES = 64 * 1024 * 1024;
/**
 * Readers refuse entries that would decode to more than this (float16 ones counted widened to
 * float32), and writers refuse to write them: 4 GiB is where JavaScript's byte views of one
 * array end (V8's typed-array length limit), not a limit of the file's 64-bit offsets.
 */
export const MAX_ENTRY_BYTES = 2 ** 32;

export type DType = 'float32' | 'float16' | 'json';
export type Codec = 'raw' | 'deflate' | 'shuffle-deflate';
export type PlaneMethod = 'raw' | 'deflate';
export type FileKind = 'model' | 'weights' | 'checkpoint';

export const DTYPE_SIZE: Record<DType, number> = { float32: 4, float16: 2, json: 1 };
export const CODECS: readonly Codec[] = ['raw', 'deflate', 'shuffle-deflate'];

export interface EntryHeader {
  key: string;
  dtype: DType;
  /** Tensor shape; for json, [byte length of the UTF-8 text]. */
  shape: number[];
  codec: Codec;
  /** Absolute byte offset of the stored payload, and its stored length. */
  offset: number;
  length: number;
  /** CRC-32 of the stored payload bytes. */
  crc32: number;
  /** shuffle-deflate only: how each byte plane is stored, and its stored length. */
  planes?: PlaneMethod[];
  planeLengths?: number[];
}

export interface FileHeader {
  format: 'wpt';
  version: [number, number];
  kind: FileKind;
  engine: { name: string; version: string };
  created: string;
  metadata: Record<string, unknown>;
  entries: EntryHeader[];
}

export function decodedByteLength(e: Pick<EntryHeader, 'dtype' | 'shape'>): number {
  return e.shape.reduce((n, d) => n * d, 1) * DTYPE_SIZE[e.dtype];
}

/** The prologue: magic, major and minor version, reserved flags (zero). */
export function encodePrologue(): Uint8Array {
  const out = new Uint8Array(PROLOGUE_SIZE);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint16(8, FORMAT_MAJOR, true);
  view.setUint16(10, FORMAT_MINOR, true);
  view.setUint32(12, 0, true);
  return out;
}

export function encodeTrailer(headerOffset: number, headerLength: number, headerCrc: number): Uint8Array {
  const out = new Uint8Array(TRAILER_SIZE);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerOffset), true);
  view.setUint32(8, headerLength, true);
  view.setUint32(12, headerCrc, true);
  out.set(TRAILER_MAGIC, 16);
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Checks a parsed header against the schema (docs/header.schema.json) and the file's size:
 * every entry must lie inside the data section, entries must not overlap, keys must be
 * unique, decoded sizes must be under the cap. Throws a CheckpointError naming the entry.
 */
export function validateHeader(h: unknown, file: string, dataEnd: number): FileHeader {
  const bad = (detail: string, entry?: string, offset?: number) =>
    new CheckpointError('MALFORMED_HEADER', detail, { file, entry, offset });
  if (!isObject(h)) throw bad('header is not a JSON object');
  if (h.format !== 'wpt') throw bad(`format is ${JSON.stringify(h.format)}, expected "wpt"`);
  if (!Array.isArray(h.version) || h.version.length !== 2 || !h.version.every(isCount))
    throw bad('version must be [major, minor]');
  if (!['model', 'weights', 'checkpoint'].includes(h.kind as string))
    throw bad(`kind ${JSON.stringify(h.kind)} is not model, weights or checkpoint`);
  if (!isObject(h.engine) || typeof h.engine.name !== 'string' || typeof h.engine.version !== 'string')
    throw bad('engine must be { name, version }');
  if (typeof h.created !== 'string') throw bad('created must be an ISO date string');
  if (!isObject(h.metadata)) throw bad('metadata must be an object');
  if (!Array.isArray(h.entries)) throw bad('entries must be an array');
  const seen = new Set<string>();
  const spans: Array<[number, number, string]> = [];
  for (const [i, e] of h.entries.entries()) {
    if (!isObject(e) || typeof e.key !== 'string') throw bad(`entry #${i} has no string key`);
    const key = e.key;
    if (seen.has(key)) throw bad('duplicate key', key);
    seen.add(key);
    if (!(typeof e.dtype === 'string' && e.dtype in DTYPE_SIZE)) {
      throw new CheckpointError(
        'UNKNOWN_DTYPE',
        `dtype ${JSON.stringify(e.dtype)} is not one of ${Object.keys(DTYPE_SIZE).join(', ')}`,
        { file, entry: key },
      );
    }
    if (!CODECS.includes(e.codec as Codec)) {
      throw new CheckpointError(
        'UNKNOWN_CODEC',
        `codec ${JSON.stringify(e.codec)} is not one of ${CODECS.join(', ')}`,
        { file, entry: key },
      );
    }
    if (!Array.isArray(e.shape) || !e.shape.every(isCount) || (e.dtype === 'json' && e.shape.length !== 1))
      throw bad('shape must be an array of non-negative integers', key);
    if (!isCount(e.offset) || !isCount(e.length) || !isCount(e.crc32) || e.crc32 > 0xffffffff)
      throw bad('offset, length and crc32 must be non-negative integers', key);
    const decoded = decodedByteLength(e as unknown as EntryHeader);
    // float16 is widened to float32 when read: that array must fit too.
    const widened = e.dtype === 'float16' ? 2 * decoded : decoded;
    if (!(widened <= MAX_ENTRY_BYTES)) {
      throw new CheckpointError(
        'ENTRY_TOO_LARGE',
        `decodes to ${widened} bytes${e.dtype === 'float16' ? ' as float32' : ''}, over the ${MAX_ENTRY_BYTES}-byte cap`,
        { file, entry: key },
      );
    }
    if (e.offset < PROLOGUE_SIZE || e.offset + e.length > dataEnd) {
      throw new CheckpointError(
        'OFFSET_OUT_OF_RANGE',
        `payload [${e.offset}, ${e.offset + e.length}) lies outside the data section [${PROLOGUE_SIZE}, ${dataEnd})`,
        { file, entry: key, offset: e.offset },
      );
    }
    if (e.codec === 'raw' && e.length !== decoded) {
      throw new CheckpointError(
        'DECOMPRESSED_SIZE_MISMATCH',
        `raw payload is ${e.length} bytes, shape and dtype say ${decoded}`,
        { file, entry: key, offset: e.offset },
      );
    }
    if (e.codec === 'shuffle-deflate') validatePlanes(e, key, decoded, file);
    spans.push([e.offset, e.offset + e.length, key]);
  }
  // Payloads tile the data section exactly: no overlap, and no gap where a flipped byte
  // could hide outside every checksum.
  spans.sort((a, b) => a[0] - b[0]);
  let end = PROLOGUE_SIZE;
  for (const [start, stop, key] of spans) {
    if (start < end)
      throw new CheckpointError(
        'OVERLAPPING_ENTRIES',
        `payload starts inside the previous entry, which ends at ${end}`,
        { file, entry: key, offset: start },
      );
    if (start > end)
      throw new CheckpointError('MALFORMED_HEADER', `${start - end} unaccounted bytes before this payload`, {
        file,
        entry: key,
        offset: end,
      });
    end = stop;
  }
  if (end !== dataEnd)
    throw new CheckpointError('MALFORMED_HEADER', `${dataEnd - end} unaccounted bytes after the last payload`, {
      file,
      offset: end,
    });
  return h as unknown as FileHeader;
}

function validatePlanes(e: Record<string, unknown>, key: string, decoded: number, file: string): void {
  const size = DTYPE_SIZE[e.dtype as DType];
  const planes = e.planes,
    lengths = e.planeLengths;
  const ok =
    Array.isArray(planes) &&
    Array.isArray(lengths) &&
    planes.length === size &&
    lengths.length === size &&
    planes.every((p) => p === 'raw' || p === 'deflate') &&
    lengths.every(isCount) &&
    lengths.reduce((a: number, b: number) => a + b, 0) === e.length &&
    planes.every((p, i) => p !== 'raw' || lengths[i] === decoded / size);
  if (!ok)
    throw new CheckpointError(
      'MALFORMED_HEADER',
      `shuffle-deflate needs ${size} planes ('raw' | 'deflate') whose lengths sum to the payload length`,
      { file, entry: key },
    );
}

/** The format is little-endian and the codecs view typed arrays as bytes: refuse other hosts. */
export function assertLittleEndianHost(): void {
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) {
    throw new CheckpointError(
      'IO',
      'this host is big-endian; .wpt files are little-endian and this build does not byte-swap',
    );
  }
}
