/**
 * Streaming training resumed exactly: a real process trains on a 2-million-row CSV (78 MB)
 * streamed from disk or over HTTP, is SIGKILLed at random batches, and each rerun continues
 * from its last backup at the next sample — reading the file from the saved byte offset (a
 * range request over HTTP), never again from the start — and ends bit-identical to a run
 * that was never killed.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCsv } from '../../harness/csv-stream.js';

const CHILD = join(import.meta.dirname, '../../harness/csv-stream-child.ts');
const ROWS = 2_000_000;
const BATCHES = Math.ceil(ROWS / 256);
const SAVE_FREQ = 200;
const MiB = 1 << 20;

let root: string, csvPath: string, size: number;
let reference: { bits: number[][]; history: Record<string, number[]> };

function run(source: string, dir: string, killAtBatch?: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, source, dir, String(SAVE_FREQ), join(dir, 'reads.log'), join(dir, 'out.json')],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WAYPOINT_BACKEND: 'cpu' } },
  );
  let err = '',
    partial = '',
    start: number[] | null = null;
  child.stderr.on('data', (d) => (err += d));
  child.stdout.on('data', (d: Buffer) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const [what, , b] = line.split(' ');
      if (what === 'start') start = line.split(' ').slice(1).map(Number);
      if (what === 'batch' && killAtBatch !== undefined && Number(b) === killAtBatch) child.kill('SIGKILL');
    }
  });
  return new Promise<{ code: number | null; signal: string | null; start: number[] | null; err: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, start, err })),
  );
}

/** Kills a run at each of `kills` (batches of its one epoch), then lets it finish; returns the starts of each process. */
async function killStorm(source: string, dir: string, kills: number[]) {
  const starts: number[][] = [];
  for (const at of kills) {
    const r = await run(source, dir, at);
    expect(r.signal, `the run meant to die at batch ${at}: ${r.err.slice(-400)}`).toBe('SIGKILL');
    starts.push(r.start!);
  }
  const last = await run(source, dir);
  expect(last.code, last.err.slice(-400)).toBe(0);
  starts.push(last.start!);
  return { starts, out: JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) };
}

const killPoints = fc
  .uniqueArray(fc.integer({ min: 50, max: BATCHES - 50 }), { minLength: 3, maxLength: 3 })
  .map((a) => a.sort((x, y) => x - y));

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'wpt-stream-'));
  csvPath = join(root, 'rows.csv');
  size = writeCsv(csvPath, ROWS);
  const r = await run(csvPath, join(root, 'reference'));
  expect(r.code, r.err).toBe(0);
  reference = JSON.parse(readFileSync(join(root, 'reference', 'out.json'), 'utf8'));
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a CSV streamed from disk', () => {
  it('SIGKILLed at random batches, each rerun reads on from its backup and the run ends bit-identical', async () => {
    let runNo = 0;
    await fc.assert(
      fc.asyncProperty(killPoints, async (kills) => {
        const dir = join(root, `file-${runNo++}`);
        const { starts, out } = await killStorm(csvPath, dir, kills);
        expect(out.bits).toEqual(reference.bits);
        expect(out.history).toEqual(reference.history);
        // The reads of each process, from the log every read is appended to before it is used.
        const segments: Array<{ start: number[]; reads: Array<[number, number]> }> = [];
        for (const line of readFileSync(join(dir, 'reads.log'), 'utf8').trim().split('\n')) {
          const [a, b, c] = line.split(' ');
          if (a === 'start') segments.push({ start: [Number(b), Number(c)], reads: [] });
          else segments.at(-1)!.reads.push([Number(a), Number(b)]);
        }
        expect(segments.map((s) => s.start)).toEqual(starts);
        for (const [i, s] of segments.entries()) {
          // Each rerun starts at its backup's batch, and reads the file from past 0: nothing before its position.
          if (i > 0) {
            const at = kills[i - 1];
            // Killed at the batch whose end backs up, the process may finish that backup before the signal lands.
            const backups = [Math.floor(at / SAVE_FREQ) * SAVE_FREQ, ...((at + 1) % SAVE_FREQ === 0 ? [at + 1] : [])];
            expect(backups).toContain(s.start[1]);
            if (s.start[1] > 0) expect(Math.min(...s.reads.map(([o]) => o))).toBeGreaterThan(0);
          }
        }
        // What was read again is what the killed processes read past their last backup: a few MiB a kill, not the file.
        const total = segments.flatMap((s) => s.reads).reduce((n, [, len]) => n + len, 0);
        expect(total).toBeLessThan(size + kills.length * 6 * MiB);
      }),
      { numRuns: 2, endOnFailure: true, examples: [[[199, 1999, 3999]]] }, // kills at batches whose end backs up,
    );
  }, 600_000);
});

describe('a CSV streamed over HTTP (127.0.0.1, range requests)', () => {
  let server: Server;
  let url: string;
  const requests: Array<{ range: string | undefined; sent: number }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const range = req.headers.range;
      const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
      const start = m ? Number(m[1]) : 0;
      const record = { range, sent: 0 };
      requests.push(record);
      if (start >= size) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(m ? 206 : 200, {
        'Content-Length': String(size - start),
        'Accept-Ranges': 'bytes',
        ...(m ? { 'Content-Range': `bytes ${start}-${size - 1}/${size}` } : {}),
      });
      const stream = createReadStream(csvPath, { start });
      stream.on('data', (chunk) => (record.sent += chunk.length));
      stream.pipe(res);
      res.on('close', () => stream.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/rows.csv`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('SIGKILLed at random batches, each rerun asks for the bytes from its position on and ends bit-identical', async () => {
    await fc.assert(
      fc.asyncProperty(killPoints, async (kills) => {
        requests.length = 0;
        const dir = join(root, 'http');
        rmSync(dir, { recursive: true, force: true });
        const { starts, out } = await killStorm(url, dir, kills);
        expect(out.bits).toEqual(reference.bits);
        expect(out.history).toEqual(reference.history);
        // One request a process: a fresh pass reads from 0, a resumed one asks for a range from its position.
        expect(requests.length).toBe(starts.length);
        requests.forEach((r, i) => {
          if (starts[i][1] === 0) expect(r.range).toBeUndefined();
          else expect(Number(/\d+/.exec(r.range!)![0])).toBeGreaterThan(0);
        });
        const total = requests.reduce((n, r) => n + r.sent, 0);
        expect(total).toBeLessThan(size + (kills.length + 2) * 12 * MiB);
        expect(existsSync(join(dir, 'out.json')) && statSync(join(dir, 'out.json')).size > 0).toBe(true);
      }),
      { numRuns: 1, endOnFailure: true },
    );
  }, 600_000);
});
