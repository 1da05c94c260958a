/**
 * Where a file's bytes come from, read in chunks from any offset: a path (through a
 * Storage), a URL (fetch; a range request to start past 0), a Blob or File, or bytes in
 * memory. Only the chunk being read is in memory, so a file far larger than memory streams.
 */
import { ArgumentError } from '../errors.js';
import { getDefaultStorage, type Storage } from '../storage/storage.js';
import { DataError } from './errors.js';

export type SourceLike = string | URL | Blob | Uint8Array | ArrayBuffer;

export interface SourceOptions {
  /** Where a path is read from (default: the default storage: the file system in Node). */
  storage?: Storage;
  /** Bytes read at a time (default 1 MiB). */
  chunkSize?: number;
  /** The fetch a URL is read with (default: globalThis.fetch). */
  fetch?: typeof globalThis.fetch;
  /** Told when a server ignores a range request, so that resuming reads what came before. */
  warn?: (message: string) => void;
}

export interface ByteSource {
  /** The source, for messages: the path, the URL, the Blob's name. */
  readonly name: string;
  /** The bytes from `offset` to the end, a chunk at a time. */
  chunks(offset: number): AsyncGenerator<Uint8Array, void, undefined>;
}

const DEFAULT_CHUNK = 1 << 20;
const hasScheme = (s: string) => /^[a-z][a-z0-9+.-]*:/i.test(s) && !/^[a-z]:[\\/]/i.test(s);

/** A path, URL, Blob or bytes as a ByteSource. A string with a scheme (`https:`) is a URL; in a page, so is a relative one unless a storage is given. */
export function byteSource(source: SourceLike, options: SourceOptions = {}): ByteSource {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  if (!(Number.isInteger(chunkSize) && chunkSize > 0))
    throw new ArgumentError(`data source: chunkSize must be a positive integer, got ${chunkSize}`);
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    const bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
    return {
      name: `${bytes.length} bytes in memory`,
      async *chunks(offset) {
        for (let at = offset; at < bytes.length; at += chunkSize) yield bytes.subarray(at, at + chunkSize);
      },
    };
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) return blobSource(source, chunkSize);
  const browserPage = typeof (globalThis as { location?: { href?: string } }).location?.href === 'string';
  if (source instanceof URL || (typeof source === 'string' && (hasScheme(source) || (browserPage && !options.storage))))
    return urlSource(String(source), options);
  if (typeof source === 'string' && source !== '') return pathSource(source, options.storage ?? getDefaultStorage(), chunkSize);
  throw new ArgumentError(
    `data source: expected a path, a URL, a Blob or File, or bytes, got ${source === '' ? "''" : typeof source}`,
  );
}

function blobSource(blob: Blob, chunkSize: number): ByteSource {
  const name = (blob as File).name ? `File '${(blob as File).name}'` : `a Blob of ${blob.size} bytes`;
  return {
    name,
    async *chunks(offset) {
      for (let at = offset; at < blob.size; at += chunkSize)
        yield new Uint8Array(await blob.slice(at, Math.min(blob.size, at + chunkSize)).arrayBuffer());
    },
  };
}

/** Each chunk opens, reads and closes the file: a pass abandoned half-way leaves nothing open. */
function pathSource(path: string, storage: Storage, chunkSize: number): ByteSource {
  return {
    name: path,
    async *chunks(offset) {
      for (let at = offset; ; ) {
        let handle;
        try {
          handle = await storage.openRead(path);
        } catch (e) {
          throw new DataError(`cannot read ${path}: ${(e as Error).message}`, { source: path });
        }
        let chunk: Uint8Array;
        try {
          chunk = await handle.read(at, Math.min(chunkSize, Math.max(0, handle.size - at)));
        } finally {
          await handle.close();
        }
        if (chunk.length === 0) return;
        at += chunk.length;
        yield chunk;
      }
    },
  };
}

function urlSource(url: string, options: SourceOptions): ByteSource {
  const fetchFn = options.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function') throw new ArgumentError(`data source: no fetch to read ${url} with`);
  return {
    name: url,
    async *chunks(offset) {
      let response: Response;
      try {
        response = await fetchFn(url, offset > 0 ? { headers: { Range: `bytes=${offset}-` } } : {});
      } catch (e) {
        throw new DataError(`cannot fetch: ${(e as Error).message}`, { source: url });
      }
      if (response.status === 416) return; // the range starts at the end: nothing left
      if (!response.ok) throw new DataError(`HTTP ${response.status} ${response.statusText}`, { source: url });
      let skip = 0;
      if (offset > 0 && response.status !== 206) {
        skip = offset;
        (options.warn ?? ((m) => console.warn(`waypoint: ${m}`)))(
          `${url}: the server ignored the range request; reading ${offset} bytes again to resume`,
        );
      }
      const reader = response.body!.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          if (skip >= value.length) {
            skip -= value.length;
            continue;
          }
          yield skip > 0 ? value.subarray(skip) : value;
          skip = 0;
        }
      } finally {
        await reader.cancel().catch(() => undefined);
      }
    },
  };
}
