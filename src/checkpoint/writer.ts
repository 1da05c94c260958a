/**
 * Streams a .wpt file crash-safely: entries are encoded one at a time and appended to a
 * temporary file in the target's directory; then the header and trailer, fsync, rename over
 * the target, fsync the directory. A reader sees the old file or the new one, never half.
 */
import { basename, dirname, join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { ENGINE_VERSION } from '../version.js';
import { CheckpointError } from './errors.js';
import {
  type Codec, type EntryHeader, type FileHeader, type FileKind, FORMAT_MAJOR, FORMAT_MINOR, PROLOGUE_SIZE,
  encodePrologue, encodeTrailer, DTYPE_SIZE, assertLittleEndianHost,
} from './format.js';
import { encodePayload } from './codecs.js';
import { type Deflater, deflateRaw } from './deflate.js';
import { crc32 } from './crc32.js';
import { float32ToFloat16 } from './float16.js';
import { type FlatLeaf, stringifyJson } from './state.js';
import { type Storage, fsStorage } from './storage.js';

export interface WriteOptions {
  kind: FileKind;
  metadata?: Record<string, unknown>;
  /** Codec for tensors (JSON values always use deflate or raw). Default 'shuffle-deflate'. */
  codec?: Codec;
  /** DEFLATE level 0–9. Default 1: measured in bench/checkpoint-io.ts. */
  level?: number;
  /** Store tensors as float16: lossy, for export only. */
  float16?: boolean;
  storage?: Storage;
  /** Which thread compresses: deflateRaw (this one) or deflateRawInBackground. */
  deflate?: Deflater;
}

export interface WriteResult {
  path: string;
  bytes: number;
  header: FileHeader;
  /** CRC-32 of the header bytes (as in the trailer): identifies this exact file. */
  headerCrc32: number;
}

/** Suffix of in-progress files; a CheckpointManager deletes leftovers with it on start. */
export const TEMP_SUFFIX = '.wpt-tmp';
let tempCounter = 0;

export function tempPathFor(path: string): string {
  const unique = `${process.pid}-${Date.now().toString(36)}-${tempCounter++}`;
  return join(dirname(path), `.${basename(path)}.${unique}${TEMP_SUFFIX}`);
}

/** Writes are buffered into batches of this many bytes (one writev each). */
const BATCH_BYTES = 4 * 1024 * 1024;

export async function writeWpt(path: string, leaves: FlatLeaf[], options: WriteOptions): Promise<WriteResult> {
  assertLittleEndianHost();
  const storage = options.storage ?? fsStorage;
  const deflate = options.deflate ?? deflateRaw;
  const level = options.level ?? 1;
  const tmp = tempPathFor(path);
  let handle;
  try {
    handle = await storage.createExclusive(tmp);
  } catch (cause) {
    throw ioError(`cannot create a temporary file next to ${path}`, path, cause);
  }
  try {
    const entries: EntryHeader[] = [];
    let offset = PROLOGUE_SIZE;
    let pending: Uint8Array[] = [encodePrologue()];
    let pendingBytes = PROLOGUE_SIZE;
    for (const leaf of leaves) {
      const { dtype, shape, bytes, codec } = entryBytes(leaf, options);
      const encoded = await encodePayload(bytes, codec, DTYPE_SIZE[dtype], deflate, level);
      entries.push({
        key: leaf.key, dtype, shape, codec, offset, length: encoded.length, crc32: encoded.crc32,
        ...(encoded.planes ? { planes: encoded.planes, planeLengths: encoded.planeLengths } : {}),
      });
      offset += encoded.length;
      pending.push(...encoded.parts);
      pendingBytes += encoded.length;
      if (pendingBytes >= BATCH_BYTES) {
        await handle.write(pending);
        pending = [];
        pendingBytes = 0;
      }
    }
    const header: FileHeader = {
      format: 'wpt', version: [FORMAT_MAJOR, FORMAT_MINOR], kind: options.kind,
      engine: { name: 'waypoint', version: ENGINE_VERSION }, created: new Date().toISOString(),
      metadata: options.metadata ?? {}, entries,
    };
    const headerBytes = new TextEncoder().encode(JSON.stringify(header));
    const headerCrc32 = crc32(headerBytes);
    pending.push(headerBytes, encodeTrailer(offset, headerBytes.length, headerCrc32));
    await handle.write(pending);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await storage.rename(tmp, path);
    await storage.syncDir(dirname(path));
    return { path, bytes: offset + headerBytes.length + 24, header, headerCrc32 };
  } catch (cause) {
    await handle?.close().catch(() => undefined);
    await storage.remove(tmp).catch(() => undefined);
    if (cause instanceof CheckpointError) throw cause;
    throw ioError(`writing ${path} failed`, path, cause);
  }
}

function ioError(what: string, file: string, cause: unknown): CheckpointError {
  const code = (cause as NodeJS.ErrnoException)?.code;
  return new CheckpointError('IO', `${what}: ${code ? `${code} ` : ''}${(cause as Error)?.message ?? String(cause)}`, { file, cause });
}

function entryBytes(leaf: FlatLeaf, options: WriteOptions) {
  if (leaf.kind === 'json') {
    const bytes = new TextEncoder().encode(stringifyJson(leaf.value));
    return { dtype: 'json' as const, shape: [bytes.length], bytes, codec: (bytes.length > 256 ? 'deflate' : 'raw') as Codec };
  }
  const t: Tensor = leaf.value;
  const codec = options.codec ?? 'shuffle-deflate';
  if (options.float16) {
    const half = float32ToFloat16(t.data);
    return { dtype: 'float16' as const, shape: t.shape, bytes: new Uint8Array(half.buffer), codec };
  }
  return { dtype: 'float32' as const, shape: t.shape, bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), codec };
}
