/**
 * A read-only Storage over HTTP(S): `loadModel('https://…/model.wpt')`, `Checkpoint.read`,
 * `waypoint inspect https://…` and a page loading a published checkpoint read only what they
 * need, with range requests. Opening a file is one request for its last 63 KiB (a suffix
 * range), whose response also gives the size: the trailer and the header of any file whose
 * header fits there are served from it, so inspecting a file costs two requests (that one
 * and its 16-byte prologue). Every later request is pinned to the first response's ETag
 * (`If-Match`), so a file replaced on the server meanwhile fails instead of mixing versions.
 * Failures are CheckpointErrors: 404 NOT_FOUND, 401/403 PERMISSION_DENIED, a response that
 * is not the range asked for IO; 5xx, 429 and network failures are retried with backoff
 * first. A body cut short is returned short: the reader reports it (TRUNCATED, or a checksum).
 * A page reading another origin needs the server to allow the Range and If-Match request
 * headers and to expose Content-Range and ETag (CORS).
 */
import { CheckpointError } from '../state/errors.js';
import type { ReadHandle, Storage } from './storage.js';

export interface HttpStorageOptions {
  /** Resolves the paths given (`run/model.wpt`); absolute http(s) URLs are taken as they are. */
  baseUrl?: string;
  /** Sent with every request (an `Authorization` header, say). */
  headers?: Record<string, string>;
  /** The fetch requests go through (default: globalThis.fetch). */
  fetch?: typeof globalThis.fetch;
  /** Tries of a request that failed with a network error, 429 or 5xx, with doubling delays from `retryDelayMs`. Default 4. */
  attempts?: number;
  /** Default 200. */
  retryDelayMs?: number;
}

/**
 * Bytes the first request of a file asks for from its end: the trailer and, usually, the whole
 * header; with the 16-byte prologue, opening a file reads under 64 KiB.
 */
export const TAIL_BYTES = 63 * 1024;

/** Whether a path is an http(s) URL, which only an HttpStorage can read. */
export const isHttpUrl = (path: string): boolean => /^https?:\/\//i.test(path);

export class HttpStorage implements Storage {
  constructor(private readonly options: HttpStorageOptions = {}) {}

  private urlOf(path: string): string {
    if (isHttpUrl(path)) return path;
    if (this.options.baseUrl === undefined)
      throw new CheckpointError('NOT_FOUND', `HttpStorage: '${path}' is not an http(s) URL and no baseUrl was given`, {
        file: path,
      });
    return new URL(path.replace(/^\/+/, ''), this.options.baseUrl.replace(/\/?$/, '/')).href;
  }

  async openRead(path: string): Promise<ReadHandle> {
    const url = this.urlOf(path);
    return openRanged(url, path, (range, ifMatch) => this.get(url, range, ifMatch, path));
  }

  /** A GET of `range`, retried on network errors, 429 and 5xx; other failures mapped to their codes. */
  private async get(
    url: string,
    range: string,
    ifMatch: string | undefined,
    path: string,
  ): Promise<{ response: Response; body: Uint8Array }> {
    const fetchFn = this.options.fetch ?? globalThis.fetch;
    if (typeof fetchFn !== 'function') throw new CheckpointError('IO', `HttpStorage: no fetch to read ${url} with`);
    const attempts = this.options.attempts ?? 4;
    let delay = this.options.retryDelayMs ?? 200;
    const headers = { ...this.options.headers, Range: range, ...(ifMatch ? { 'If-Match': ifMatch } : {}) };
    let last = '';
    for (let attempt = 1; ; attempt++) {
      let response: Response | undefined;
      let failedInTransit = false;
      try {
        response = await fetchFn(url, { headers });
        if (response.ok) {
          // A body cut short by the network rejects here, or arrives short: the reader checks.
          const body = new Uint8Array(await response.arrayBuffer());
          return { response, body };
        }
        await response.body?.cancel().catch(() => undefined);
        last = `HTTP ${response.status} ${response.statusText}`.trim();
      } catch (cause) {
        // A connection refused, reset, or dropped in the middle of the body: worth another try.
        failedInTransit = true;
        last = `network error: ${(cause as Error).message}`;
      }
      const status = response?.status;
      if (!failedInTransit && status !== undefined && status !== 429 && status < 500)
        throw statusError(status, last, url, range, path);
      if (attempt >= attempts)
        throw new CheckpointError('IO', `GET ${url} (${range}) failed ${attempts} times; the last: ${last}`, {
          file: path,
        });
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
    }
  }

  private readOnly(what: string, path: string): never {
    throw new CheckpointError(
      'READ_ONLY',
      `HttpStorage reads files over HTTP(S) and cannot ${what}: save to a writable Storage (the file system, memory, a browser store)`,
      { file: path },
    );
  }

  async createExclusive(path: string): Promise<never> {
    return this.readOnly('create files', path);
  }
  async rename(from: string): Promise<never> {
    return this.readOnly('rename files', from);
  }
  async syncDir(dir: string): Promise<never> {
    return this.readOnly('sync directories', dir);
  }
  async remove(path: string): Promise<never> {
    return this.readOnly('remove files', path);
  }
  async mkdirp(dir: string): Promise<never> {
    return this.readOnly('create directories', dir);
  }
  async list(dir: string): Promise<string[]> {
    throw new CheckpointError(
      'IO',
      'HttpStorage cannot list a directory (HTTP has no listing): give the URL of a file, such as …/model.wpt',
      { file: dir },
    );
  }
}

function statusError(status: number, detail: string, url: string, range: string, path: string): CheckpointError {
  const request = `GET ${url} (${range}): ${detail}`;
  if (status === 404 || status === 410)
    return new CheckpointError('NOT_FOUND', `no such file: ${request}`, { file: path });
  if (status === 401 || status === 403)
    return new CheckpointError('PERMISSION_DENIED', `the server refused access: ${request}`, { file: path });
  if (status === 412)
    return new CheckpointError('CHECKSUM_MISMATCH', `the file changed on the server while it was read: ${request}`, {
      file: path,
    });
  if (status === 416)
    return new CheckpointError('TRUNCATED', `the file is shorter than asked: ${request}`, { file: path });
  return new CheckpointError('IO', request, { file: path });
}

/** A 206 response's `Content-Range: bytes start-end/size`, or null (a 200, or no size given). */
function contentRange(response: Response, url: string): { start: number; end: number; size: number } | null {
  if (response.status !== 206) return null;
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get('content-range') ?? '');
  if (!m)
    throw new CheckpointError(
      'IO',
      `GET ${url}: a 206 response without a usable Content-Range ('${response.headers.get('content-range')}')`,
    );
  return { start: Number(m[1]), end: Number(m[2]), size: Number(m[3]) };
}

/** A ranged GET: the response and its whole body; failures already mapped to errors. */
export type RangeGet = (
  range: string,
  ifMatch: string | undefined,
) => Promise<{ response: Response; body: Uint8Array }>;

/**
 * A ReadHandle over range requests (HttpStorage's, S3Storage's): the first request asks for
 * the last TAIL_BYTES (which also gives the size and the ETag), every later one is pinned to
 * that ETag, so a file replaced meanwhile fails instead of mixing versions.
 */
export async function openRanged(url: string, path: string, get: RangeGet): Promise<ReadHandle> {
  const first = await get(`bytes=-${TAIL_BYTES}`, undefined);
  const span = contentRange(first.response, url);
  // A server that ignores ranges sends the whole file (200): then it is all in hand. One
  // that does not know suffix ranges (s3rver) answers another range: what it sent is kept.
  const size = span ? span.size : first.body.length;
  const tailAt = span ? span.start : 0;
  const tail = first.body;
  if (span && tail.length !== span.end + 1 - span.start)
    throw new CheckpointError(
      'IO',
      `GET ${url} (bytes=-${TAIL_BYTES}) returned ${tail.length} bytes for the range ${span.start}-${span.end}`,
      {
        file: path,
      },
    );
  const etag = first.response.headers.get('etag') ?? undefined;
  const strong = etag !== undefined && !etag.startsWith('W/') ? etag : undefined;
  const handle: ReadHandle = {
    size,
    read: async (offset, length, into) => {
      const end = Math.min(offset + length, size);
      const out = into ? into.subarray(0, Math.max(0, end - offset)) : new Uint8Array(Math.max(0, end - offset));
      if (out.length === 0) return out;
      if (offset >= tailAt && end <= tailAt + tail.length) {
        out.set(tail.subarray(offset - tailAt, end - tailAt));
        return out;
      }
      const got = await get(`bytes=${offset}-${end - 1}`, strong);
      const at = contentRange(got.response, url);
      if (got.response.status === 206 && at?.start !== offset)
        throw new CheckpointError(
          'IO',
          `GET ${url} asked for bytes ${offset}-${end - 1}, got ${at ? at.start : 'no range'}`,
          {
            file: path,
            offset,
          },
        );
      const body = got.response.status === 200 ? got.body.subarray(offset, end) : got.body;
      const n = Math.min(body.length, out.length);
      out.set(body.subarray(0, n));
      return out.subarray(0, n);
    },
    close: async () => undefined,
    ...(strong ? { version: async () => strong } : {}),
  };
  return handle;
}
