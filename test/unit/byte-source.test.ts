/**
 * Byte sources over HTTP on 127.0.0.1: a pass that resumes past 0 asks for a range; a server
 * that ignores range requests is read through to the position (with a warning), and one that
 * answers 416 at the end gives nothing — every case ends with the elements still to come.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import { DataError, data, decodeValue, encodeValue } from '../../src/node/index.js';

const CSV = 'a,b\n' + Array.from({ length: 200 }, (_, i) => `${i},${i * 2}`).join('\n') + '\n';
const body = Buffer.from(CSV);
let server: Server;
let base: string;
const seen: Array<{ path: string; range?: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ path: req.url!, range: req.headers.range });
    if (req.url === '/missing.csv') return void res.writeHead(404).end();
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (req.url === '/ranges.csv' && m) {
      const start = Number(m[1]);
      if (start >= body.length) return void res.writeHead(416).end();
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
      return void res.end(body.subarray(start));
    }
    res.writeHead(200).end(body); // /plain.csv: ranges ignored
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Reads `k` rows, then resumes a fresh iterator at that position (through JSON) and reads the rest. */
async function cutAndResume(url: string, k: number, warn: (m: string) => void) {
  const ds = data.csv(url, { warn, chunkSize: 64 });
  const it = await ds.iterator();
  for (let i = 0; i < k; i++) await it.next();
  const position = decodeValue(JSON.parse(JSON.stringify(encodeValue(it.position()))));
  seen.length = 0;
  const rest = await ds.iterator(position);
  const out: unknown[] = [];
  for (let r = await rest.next(); !r.done; r = await rest.next()) out.push(r.value);
  return out;
}

describe('a URL source', () => {
  const expected = (from: number) => Array.from({ length: 200 - from }, (_, i) => ({ a: from + i, b: 2 * (from + i) }));

  it('resumes with a range request from the saved offset', async () => {
    const warnings: string[] = [];
    expect(await cutAndResume(`${base}/ranges.csv`, 150, (m) => warnings.push(m))).toEqual(expected(150));
    expect(seen).toHaveLength(1);
    expect(seen[0].range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(seen[0].range!)![0])).toBe(CSV.indexOf('150,300'));
    expect(warnings).toEqual([]);
  });

  it('resumes through a server that ignores ranges by reading on to the position, and says so', async () => {
    const warnings: string[] = [];
    expect(await cutAndResume(`${base}/plain.csv`, 150, (m) => warnings.push(m))).toEqual(expected(150));
    expect(warnings.join()).toMatch(/ignored the range request; reading \d+ bytes again to resume/);
  });

  it('at the end of the file a 416 gives no more elements', async () => {
    expect(await cutAndResume(`${base}/ranges.csv`, 200, () => undefined)).toEqual([]);
  });

  it('an HTTP error is a DataError naming the URL and the status', async () => {
    const e = await data
      .csv(`${base}/missing.csv`)
      .toArray()
      .catch((err) => err);
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toBe(`${base}/missing.csv: HTTP 404 Not Found`);
  });
});
