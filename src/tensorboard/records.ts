/**
 * TFRecord framing, as TensorBoard's event files use it: each record is its length (uint64,
 * little-endian), the masked CRC-32C of those 8 bytes, the data, and the masked CRC-32C of
 * the data.
 */
import { maskedCrc32c } from './crc32c.js';

export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** Where reading stopped early: a record cut off by the end of the file (a kill mid-write), or damage. */
export interface RecordProblem {
  offset: number;
  /** True when the file simply ends inside the record: what a writer killed mid-write leaves. */
  torn: boolean;
  reason: string;
}

export interface ParsedRecords {
  records: Uint8Array[];
  /** Null when every byte belonged to a record that verified. */
  problem: RecordProblem | null;
}

/** Every record of a file whose CRCs verify, in order, stopping at the first that does not (reported, not thrown). */
export function parseRecords(bytes: Uint8Array): ParsedRecords {
  const records: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const stop = (torn: boolean, reason: string): ParsedRecords => ({ records, problem: { offset: at, torn, reason } });
  while (at < bytes.length) {
    if (at + 12 > bytes.length)
      return stop(true, `the file ends ${bytes.length - at} bytes into a record's 12-byte header`);
    const length = view.getBigUint64(at, true);
    if (view.getUint32(at + 8, true) !== maskedCrc32c(bytes.subarray(at, at + 8)))
      return stop(false, "the length's CRC-32C does not match");
    const end = at + 12 + Number(length) + 4;
    if (length > BigInt(bytes.length) || end > bytes.length)
      return stop(true, `the file ends inside a record of ${length} bytes`);
    const data = bytes.subarray(at + 12, end - 4);
    if (view.getUint32(end - 4, true) !== maskedCrc32c(data))
      return stop(false, `the CRC-32C of a record of ${length} bytes does not match`);
    records.push(data);
    at = end;
  }
  return { records, problem: null };
}
