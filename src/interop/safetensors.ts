/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length,
 * a JSON header of `name: { dtype, shape, data_offsets: [begin, end] }` (plus `__metadata__`,
 * string to string), then the tensors' bytes, little-endian, in any order but contiguous.
 * Waypoint writes F32 (and I64 for BatchNorm's `num_batches_tracked`); it reads F32, F16,
 * BF16, F64 and the integer types, widening or narrowing to float32.
 */
import { ArgumentError, WaypointError } from '../errors.js';

/** The largest header read, as the safetensors library caps it (100 MB): a larger one is refused before it is parsed. */
export const MAX_HEADER_BYTES = 100_000_000;

export type SafetensorsDtype = 'F32' | 'F64' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
const BYTES: Record<SafetensorsDtype, number> = {
  F32: 4,
  F64: 8,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export interface NamedTensor {
  name: string;
  shape: number[];
  /** Float32 data, or int64 (for `num_batches_tracked`). */
  data: Float32Array | BigInt64Array;
}

/** A file that is not valid safetensors, or a tensor that does not fit: says what and where. */
export class SafetensorsError extends WaypointError {}

export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = Object.keys(metadata).length ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of tensors) {
    if (t.name in header) throw new ArgumentError(`safetensors: the name '${t.name}' is given twice`);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length)
      throw new ArgumentError(`safetensors: '${t.name}' has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
    header[t.name] = {
      dtype: t.data instanceof BigInt64Array ? 'I64' : 'F32',
      shape: t.shape,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8); // tensors start 8-byte aligned
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export interface ParsedSafetensors {
  metadata: Record<string, string>;
  /** float32 data; little-endian F32 tensors may be views of the bytes parsed (no copy). */
  tensors: Map<string, { dtype: SafetensorsDtype; shape: number[]; data: Float32Array }>;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1,
    exp = (h >> 10) & 0x1f,
    frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Every tensor as float32, checked against the header: offsets inside the buffer, contiguous, sizes matching shapes. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function parseSafetensors(bytes: Uint8Array): ParsedSafetensors {
  if (bytes.length < 8)
    throw new SafetensorsError(`safetensors: ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES))
    throw new SafetensorsError(
      `safetensors: the header is said to be ${n} bytes, more than the ${MAX_HEADER_BYTES} read (the safetensors library's limit too)`,
    );
  if (n > BigInt(bytes.length - 8))
    throw new SafetensorsError(
      `safetensors: the header is said to be ${n} bytes, but the file has ${bytes.length - 8} after its length`,
    );
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + Number(n))));
  } catch (e) {
    throw new SafetensorsError(
      `safetensors: the header (bytes 8–${8 + Number(n)}) is not UTF-8 JSON: ${(e as Error).message}`,
    );
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new SafetensorsError(
      `safetensors: the header must be a JSON object of tensors, got ${header === null ? 'null' : Array.isArray(header) ? 'a list' : typeof header}`,
    );
  }
  const base = 8 + Number(n),
    buffer = bytes.length - base;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))
    throw new SafetensorsError('safetensors: __metadata__ must be an object of strings');
  const tensors: ParsedSafetensors['tensors'] = new Map();
  const spans: Array<[number, number, string]> = [];
  for (const [name, spec] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec))
      throw new SafetensorsError(
        `safetensors: '${name}' must be an object with dtype, shape and data_offsets, got ${JSON.stringify(spec)?.slice(0, 60)}`,
      );
    const {
      dtype,
      shape,
      data_offsets: offsets,
    } = spec as { dtype: SafetensorsDtype; shape: number[]; data_offsets: [number, number] };
    if (typeof dtype !== 'string' || !Object.hasOwn(BYTES, dtype))
      throw new SafetensorsError(`safetensors: '${name}' has dtype ${String(dtype)}, which Waypoint does not read`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new SafetensorsError(`safetensors: '${name}' has shape ${JSON.stringify(shape)?.slice(0, 60)}`);
    const [begin, end] = (Array.isArray(offsets) ? offsets : []) as [number, number];
    const size = shape.reduce((a, b) => a * b, 1);
    if (!(
      Number.isInteger(begin) &&
      Number.isInteger(end) &&
      begin >= 0 &&
      end <= buffer &&
      end - begin === size * BYTES[dtype]
    )) {
      throw new SafetensorsError(
        `safetensors: '${name}' (${dtype} [${shape.join(', ')}], ${size * BYTES[dtype]} bytes) has data_offsets ${JSON.stringify(offsets)?.slice(0, 60)} in a buffer of ${buffer} bytes`,
      );
    }
    spans.push([begin, end, name]);
    const at = bytes.byteOffset + base + begin;
    if (dtype === 'F32' && LITTLE_ENDIAN) {
      // the common case: a view of the file's bytes where aligned, else one copy
      tensors.set(name, {
        dtype,
        shape,
        data:
          at % 4 === 0
            ? new Float32Array(bytes.buffer, at, size)
            : new Float32Array(bytes.slice(base + begin, base + end).buffer),
      });
      continue;
    }
    const raw = new DataView(bytes.buffer, at, end - begin);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const at = i * BYTES[dtype];
      switch (dtype) {
        case 'F32':
          data[i] = raw.getFloat32(at, true);
          break;
        case 'F64':
          data[i] = raw.getFloat64(at, true);
          break;
        case 'F16':
          data[i] = halfToFloat(raw.getUint16(at, true));
          break;
        case 'BF16':
          data[i] = new Float32Array(new Uint32Array([raw.getUint16(at, true) << 16]).buffer)[0];
          break;
        case 'I64':
          data[i] = Number(raw.getBigInt64(at, true));
          break;
        case 'I32':
          data[i] = raw.getInt32(at, true);
          break;
        case 'I16':
          data[i] = raw.getInt16(at, true);
          break;
        case 'I8':
          data[i] = raw.getInt8(at);
          break;
        default:
          data[i] = raw.getUint8(at);
      }
    }
    tensors.set(name, { dtype, shape, data });
  }
  spans.sort((a, b) => a[0] - b[0]);
  let expected = 0;
  for (const [begin, end, name] of spans) {
    if (begin !== expected)
      throw new SafetensorsError(
        `safetensors: '${name}' starts at byte ${begin} of the buffer, where ${expected} was expected (tensors must be contiguous, without overlap)`,
      );
    expected = end;
  }
  if (expected !== buffer)
    throw new SafetensorsError(`safetensors: the tensors end at byte ${expected} of a ${buffer}-byte buffer`);
  return { metadata, tensors };
}
