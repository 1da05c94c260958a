/**
 * What a dataset yields: Tensors, numbers, strings, booleans, arrays and plain objects of
 * them. `stack` joins a batch of elements of one structure into one element whose leaves are
 * Tensors with a leading batch dimension (as tfjs-data's batch does); `encodeValue` and
 * `decodeValue` carry elements through a checkpoint's JSON exactly (a shuffle buffer's contents).
 */
import { ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { sameShape } from '../tensor/shape.js';
import type { JsonValue } from '../state/tree.js';

export type DataElement =
  | Tensor
  | number
  | string
  | boolean
  | Float32Array
  | DataElement[]
  | { [key: string]: DataElement };

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/** A nested array of numbers (a row, a matrix): stacked as one tensor, not as a list of elements. */
function numericShape(v: unknown): number[] | null {
  if (typeof v === 'number') return [];
  if (v instanceof Float32Array) return [v.length];
  if (v instanceof Tensor) return v.shape;
  if (!Array.isArray(v) || v.length === 0 || v[0] instanceof Tensor) return null;
  const inner = numericShape(v[0]);
  // Rectangular all through, or a container of mixed parts ([features, label]).
  if (inner === null || v.some((e) => !sameShape(numericShape(e) ?? [-1], inner))) return null;
  return [v.length, ...inner];
}

/**
 * Writes `v` (a number, or nested lists of them, or a Tensor / float array) of `shape[depth..]`
 * into `out` at `at`; returns the offset after it, or -1 if it does not have that shape.
 */
function flattenInto(v: unknown, shape: readonly number[], depth: number, out: Float32Array, at: number): number {
  if (typeof v === 'number') return depth === shape.length ? ((out[at] = v), at + 1) : -1;
  if (v instanceof Tensor || v instanceof Float32Array) {
    const data = v instanceof Tensor ? v.data : v;
    const own = v instanceof Tensor ? v.shape : [v.length];
    if (own.length !== shape.length - depth || own.some((d, k) => d !== shape[depth + k])) return -1;
    out.set(data, at);
    return at + data.length;
  }
  if (!Array.isArray(v) || v.length !== shape[depth]) return -1;
  if (depth === shape.length - 1) {
    // The innermost list: numbers, copied in one loop.
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x !== 'number') return -1;
      out[at + i] = x;
    }
    return at + v.length;
  }
  for (let i = 0; i < v.length && at >= 0; i++) at = flattenInto(v[i], shape, depth + 1, out, at);
  return at;
}

/**
 * Joins `elements` (one structure, as the first) into one: numbers, numeric arrays and
 * Tensors become a Tensor [n, ...shape]; strings and booleans a list; objects and other
 * lists key by key. An element of another structure or shape is a ShapeError naming it.
 */
export function stack(elements: readonly DataElement[], path = 'element'): DataElement {
  const first = elements[0];
  const shape = numericShape(first);
  if (shape !== null) {
    const size = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(size * elements.length);
    elements.forEach((e, i) => {
      if (flattenInto(e, shape, 0, out, i * size) !== (i + 1) * size) {
        const own = numericShape(e);
        throw new ShapeError(
          'batch',
          `${path} ${i} of the batch has ${own ? `shape ${fmtShape(own)}` : 'parts that are not numbers'}, the first element shape ${fmtShape(shape)}`,
        );
      }
    });
    return new Tensor(out, [elements.length, ...shape]);
  }
  if (typeof first === 'string' || typeof first === 'boolean') {
    elements.forEach((e, i) => {
      if (typeof e !== typeof first)
        throw new ShapeError('batch', `${path} ${i} of the batch is ${typeof e}, the first element ${typeof first}`);
    });
    return [...elements];
  }
  if (Array.isArray(first)) {
    return first.map((_, k) =>
      stack(
        elements.map((e, i) => {
          if (!Array.isArray(e) || e.length !== first.length)
            throw new ShapeError('batch', `${path} ${i} of the batch is not a list of ${first.length} like the first`);
          return e[k];
        }),
        `${path}[${k}]`,
      ),
    );
  }
  if (isPlainObject(first)) {
    const keys = Object.keys(first);
    return Object.fromEntries(
      keys.map((k) => [
        k,
        stack(
          elements.map((e, i) => {
            if (!isPlainObject(e) || !(k in e))
              throw new ShapeError('batch', `${path} ${i} of the batch has no key '${k}' (the first element has ${keys.join(', ')})`);
            return (e as Record<string, DataElement>)[k];
          }),
          `${path}.${k}`,
        ),
      ]),
    );
  }
  throw new ShapeError('batch', `${path} is ${first === null ? 'null' : typeof first}: elements are Tensors, numbers, strings, booleans, lists and plain objects`);
}

const TAG = '\u0000waypoint';

function floatsToBase64(data: Float32Array): string {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function base64ToFloats(text: string): Float32Array {
  const s = atob(text);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

/** Any value of a dataset's position (elements included) as JSON, bit-exact: Tensors and float arrays by their bytes, NaN and ±Infinity by name. */
export function encodeValue(v: unknown): JsonValue {
  if (v instanceof Tensor) return { [TAG]: 'tensor', shape: v.shape, data: floatsToBase64(v.data) };
  if (v instanceof Float32Array) return { [TAG]: 'f32', data: floatsToBase64(v) };
  if (typeof v === 'number') return Number.isFinite(v) ? v : { [TAG]: 'number', value: String(v) };
  if (v === undefined) return { [TAG]: 'undefined' };
  if (Array.isArray(v)) return v.map(encodeValue);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeValue(x)]));
  return v as JsonValue;
}

export function decodeValue(v: JsonValue): unknown {
  if (Array.isArray(v)) return v.map(decodeValue);
  if (isPlainObject(v)) {
    const o = v as Record<string, JsonValue>;
    switch (o[TAG]) {
      case 'tensor':
        return new Tensor(base64ToFloats(o.data as string), o.shape as number[]);
      case 'f32':
        return base64ToFloats(o.data as string);
      case 'number':
        return Number(o.value);
      case 'undefined':
        return undefined;
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decodeValue(x)]));
  }
  return v;
}
