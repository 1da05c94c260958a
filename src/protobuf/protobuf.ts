/**
 * The few protocol-buffer wire-format pieces TensorBoard's event files and ONNX models need:
 * varints, length-delimited fields, fixed 32/64-bit numbers, written into a growing buffer
 * and read back field by field. No schema compiler: each user names the fields it uses.
 */
import { WaypointError } from '../errors.js';

/** Wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit. */
export type WireType = 0 | 1 | 2 | 5;

export class ProtoWriter {
  private buf = new Uint8Array(64);
  private len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private varint(value: bigint | number): void {
    let v = BigInt.asUintN(64, BigInt(value));
    this.room(10);
    while (v >= 0x80n) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
  }

  private tag(field: number, wire: WireType): void {
    this.varint((field << 3) | wire);
  }

  /**
   * int32/int64/enum/bool (negative numbers as 64-bit two's complement). As proto3 does, a
   * default value (0, false) is not written, so the bytes equal protobuf's own serialization.
   */
  int(field: number, value: number | bigint | boolean): this {
    if (value === 0 || value === 0n || value === false) return this;
    this.tag(field, 0);
    this.varint(typeof value === 'boolean' ? (value ? 1 : 0) : value);
    return this;
  }

  /** An element of a repeated integer field, or a required one: written even when 0. */
  element(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  /** A double; 0 is the default and not written (see `int`). */
  double(field: number, value: number): this {
    if (value === 0) return this;
    this.tag(field, 1);
    this.room(8);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 8).setFloat64(0, value, true);
    this.len += 8;
    return this;
  }

  /** A single float (fixed 32-bit), written even when 0. */
  float(field: number, value: number): this {
    this.tag(field, 5);
    this.room(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, value, true);
    this.len += 4;
    return this;
  }

  /** A packed repeated float field (how protobuf writes proto3's repeated floats). */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const data = new Uint8Array(values.length * 4);
    const view = new DataView(data.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
    return this.bytes(field, data);
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(value.length);
    this.room(value.length);
    this.buf.set(value, this.len);
    this.len += value.length;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  /** A packed repeated double field. */
  packedDoubles(field: number, values: ArrayLike<number>): this {
    const data = new Uint8Array(values.length * 8);
    const view = new DataView(data.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
    return this.bytes(field, data);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** One field as read: its number, wire type and value (varints as bigint, fixed as raw bytes). */
export interface ProtoField {
  field: number;
  wire: WireType;
  varint?: bigint;
  bytes?: Uint8Array;
}

/** Thrown on bytes that are not well-formed protocol buffers, with the offset. */
export class ProtoError extends WaypointError {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
  }
}

/** Every field of a message, in order. */
export function readFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let at = 0;
  const varint = (): bigint => {
    let v = 0n,
      shift = 0n;
    for (;;) {
      if (at >= bytes.length) throw new ProtoError('truncated varint', at);
      const b = bytes[at++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
      if (shift > 63n) throw new ProtoError('varint longer than 10 bytes', at);
    }
  };
  const take = (n: number): Uint8Array => {
    if (at + n > bytes.length) throw new ProtoError(`field of ${n} bytes runs past the end`, at);
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const field = key >>> 3,
      wire = (key & 7) as WireType;
    if (field === 0) throw new ProtoError('field number 0', at);
    if (wire === 0) fields.push({ field, wire, varint: varint() });
    else if (wire === 1) fields.push({ field, wire, bytes: take(8) });
    else if (wire === 2) fields.push({ field, wire, bytes: take(Number(varint())) });
    else if (wire === 5) fields.push({ field, wire, bytes: take(4) });
    else throw new ProtoError(`unsupported wire type ${wire}`, at);
  }
  return fields;
}

export const fixed64ToDouble = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true);
export const fixed32ToFloat = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);
export const utf8 = (b: Uint8Array) => new TextDecoder().decode(b);
/** A varint as a signed 64-bit number (steps are int64). */
export const int64 = (v: bigint) => Number(BigInt.asIntN(64, v));
