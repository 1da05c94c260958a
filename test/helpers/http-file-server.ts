/**
 * A small HTTP server on 127.0.0.1 serving files from memory as a static file server or an
 * object store does: range requests (`bytes=a-b`, `bytes=a-`, suffix `bytes=-n`, 206 with
 * Content-Range), a strong ETag per file version, `If-Match` (412 when the file changed).
 * Faults are injected per request: a status to answer instead, a body cut short and the
 * connection dropped. Every request is logged with the bytes it sent. CORS headers let a
 * page of another origin read it (preflights are answered, not logged).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = { status: number } | { cutAfter: number };

export interface FileServer {
  url: string;
  files: Map<string, Uint8Array>;
  /** Faults for the next requests, taken in order (one each). */
  faults: Fault[];
  log: Array<{ path: string; range: string; status: number; bytes: number }>;
  close(): Promise<void>;
}

const versions = new WeakMap<Uint8Array, number>();
let nextVersion = 1;
const etagOf = (bytes: Uint8Array) => {
  if (!versions.has(bytes)) versions.set(bytes, nextVersion++);
  return `"v${versions.get(bytes)}-${bytes.length}"`;
};

/** What a page of another origin needs to read ranges pinned to an ETag (answered to every request). */
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'Range, If-Match',
  'Access-Control-Expose-Headers': 'Content-Range, ETag',
};

export async function startFileServer(): Promise<FileServer> {
  const files = new Map<string, Uint8Array>();
  const faults: Fault[] = [];
  const log: FileServer['log'] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    for (const [name, value] of Object.entries(CORS)) res.setHeader(name, value);
    if (req.method === 'OPTIONS') return void res.writeHead(204).end(); // a page's preflight
    const range = String(req.headers.range ?? '');
    const answer = (status: number, body: Uint8Array, headers: Record<string, string> = {}) => {
      const fault = faults.shift();
      if (fault && 'status' in fault) {
        log.push({ path, range, status: fault.status, bytes: 0 });
        res.writeHead(fault.status).end();
        return;
      }
      res.writeHead(status, { 'Content-Length': String(body.length), 'Accept-Ranges': 'bytes', ...headers });
      if (fault && 'cutAfter' in fault) {
        log.push({ path, range, status, bytes: fault.cutAfter });
        res.write(body.subarray(0, fault.cutAfter), () => res.destroy());
        return;
      }
      log.push({ path, range, status, bytes: body.length });
      res.end(body);
    };
    const file = files.get(path);
    if (file === undefined) return answer(404, new Uint8Array(0));
    const etag = etagOf(file);
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch !== etag) return answer(412, new Uint8Array(0));
    const m = /^bytes=(\d*)-(\d*)$/.exec(range);
    if (!m) return answer(200, file, { ETag: etag });
    let start: number, end: number;
    if (m[1] === '') [start, end] = [Math.max(0, file.length - Number(m[2])), file.length - 1];
    else [start, end] = [Number(m[1]), m[2] === '' ? file.length - 1 : Math.min(Number(m[2]), file.length - 1)];
    if (start >= file.length || file.length === 0)
      return answer(416, new Uint8Array(0), { 'Content-Range': `bytes */${file.length}` });
    answer(206, file.subarray(start, end + 1), { ETag: etag, 'Content-Range': `bytes ${start}-${end}/${file.length}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    files,
    faults,
    log,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
