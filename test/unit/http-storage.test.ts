/**
 * HttpStorage: published checkpoints read over HTTP with range requests, from a real HTTP
 * server on 127.0.0.1 (test/helpers/http-file-server.ts) that injects faults. What is read
 * is counted on the server: opening and inspecting a file is two requests and under 64 KiB (its last 63 KiB and 16 bytes);
 * a model loads with about its own size in transfers. Failures are typed and retried where
 * that can help; a body cut short or a file changed on the server is never loaded.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Adam,
  Checkpoint,
  CheckpointError,
  Dense,
  HttpStorage,
  MemoryStorage,
  Random,
  Sequential,
  Tensor,
  WptReader,
  loadModel,
  randn,
  readWpt,
} from '../../src/node/index.js';
import { type FileServer, startFileServer } from '../helpers/http-file-server.js';
import { readOnlyStorageContract } from '../../src/testing/index.js';

let server: FileServer;
beforeAll(async () => {
  server = await startFileServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.log.length = 0;
  server.faults.length = 0;
});

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js');

/** The CLI in a child process, awaited without blocking this one's server. */
function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('node', [BIN, ...args]);
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A trained model saved into memory, published on the server at `path`; returns the model. */
async function publishModel(path: string): Promise<Sequential> {
  const model = new Sequential(
    [new Dense({ units: 64, activation: 'relu', inputShape: [32] }), new Dense({ units: 4, activation: 'softmax' })],
    { seed: 3 },
  );
  model.compile({ optimizer: new Adam({ learningRate: 0.01 }), loss: 'categoricalCrossentropy' });
  const rng = new Random(5);
  const x = randn([64, 32], rng);
  const y = new Tensor(
    Float32Array.from({ length: 256 }, (_, i) => (i % 4 === (i >> 2) % 4 ? 1 : 0)),
    [64, 4],
  );
  await model.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
  const storage = new MemoryStorage();
  await model.save('/m.wpt', { storage });
  server.files.set(path, storage.files.get('/m.wpt')!);
  return model;
}

describe('HttpStorage', () => {
  it('loadModel of an https URL predicts as the model saved, transferring about the file once', async () => {
    const model = await publishModel('/models/mlp.wpt');
    const back = await loadModel(`${server.url}/models/mlp.wpt`);
    const x = randn([5, 32], new Random(9));
    expect((back.predict(x) as Tensor).data).toEqual((model.predict(x) as Tensor).data);
    const size = server.files.get('/models/mlp.wpt')!.length;
    const sent = server.log.reduce((n, r) => n + r.bytes, 0);
    expect(sent).toBeLessThanOrEqual(size + 64 * 1024);
    expect(server.log.every((r) => r.range.startsWith('bytes='))).toBe(true);
  });

  it('opening a file reads its last 63 KiB and its first 16 bytes: two requests under 64 KiB, whatever its size', async () => {
    const big = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`w${i}`, randn([256, 256], new Random(i))]));
    const storage = new MemoryStorage();
    await new Checkpoint(big).write('/big.wpt', { storage, codec: 'raw' });
    server.files.set('/big.wpt', storage.files.get('/big.wpt')!);
    const reader = await WptReader.open(`${server.url}/big.wpt`);
    expect(reader.entries.map((e) => e.key)).toEqual(Object.keys(big));
    await reader.close();
    expect(server.log.map((r) => r.range).sort()).toEqual(['bytes=-64512', 'bytes=0-15']);
    expect(server.log.reduce((n, r) => n + r.bytes, 0)).toBeLessThan(64 * 1024);
    // An entry is then one range of its own bytes (in 1 MiB pieces), and reads back exactly.
    server.log.length = 0;
    const r2 = await WptReader.open(`${server.url}/big.wpt`);
    const w3 = (await r2.read('w3')) as Tensor;
    await r2.close();
    expect(w3.data).toEqual(big.w3.data);
    const e = r2.entry('w3');
    expect(server.log.filter((r) => r.range === `bytes=${e.offset}-${e.offset + e.length - 1}`)).toHaveLength(1);
  });

  it('waypoint inspect of a URL prints the header from at most two requests under 64 KiB and reads no entry', async () => {
    await publishModel('/models/inspect.wpt');
    const out = await cli('inspect', `${server.url}/models/inspect.wpt`);
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/: model, format 1\.0/);
    expect(out.stdout).toMatch(/layers\/0\/kernel/);
    expect(out.stdout).toMatch(/entries not read: .* is remote, and inspect reads its header only/);
    expect(server.log.length).toBeLessThanOrEqual(2); // one where the file is under 63 KiB
    expect(server.log.reduce((n, r) => n + r.bytes, 0)).toBeLessThan(64 * 1024);
  });

  it('waypoint diff and export take URLs: a published model against its local copy, and exported to ONNX from its URL', async () => {
    await publishModel('/models/cli.wpt');
    const dir = mkdtempSync(join(tmpdir(), 'wpt-http-'));
    try {
      const local = join(dir, 'local.wpt');
      writeFileSync(local, server.files.get('/models/cli.wpt')!);
      const same = await cli('diff', `${server.url}/models/cli.wpt`, local);
      expect(same.stderr).toBe('');
      expect(same.status).toBe(0);
      const onnx = join(dir, 'model.onnx');
      const exported = await cli('export', `${server.url}/models/cli.wpt`, '--to', 'onnx', '--out', onnx);
      expect(exported.stderr).toBe('');
      expect(exported.status).toBe(0);
      expect(statSync(onnx).size).toBeGreaterThan(1000);
      const missing = await cli('inspect', `${server.url}/models/none.wpt`);
      expect(missing.status).toBe(1);
      expect(missing.stderr.trim()).toMatch(
        /^waypoint inspect: NOT_FOUND: no such file: GET http:\/\/127\.0\.0\.1:\d+\/models\/none\.wpt/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a restore over HTTP of a model too large to stage verifies, then reads each entry again pinned to the ETag', async () => {
    const floats = 2 << 20;
    const source = Object.fromEntries(
      Array.from({ length: 9 }, (_, i) => [`t${i}`, new Tensor(new Float32Array(floats).fill(i + 0.5), [floats])]),
    );
    const storage = new MemoryStorage();
    await new Checkpoint(source).write('/large.wpt', { storage, codec: 'raw' });
    server.files.set('/large.wpt', storage.files.get('/large.wpt')!);
    const into = Object.fromEntries(
      Object.keys(source).map((k) => [k, new Tensor(new Float32Array(floats), [floats])]),
    );
    await new Checkpoint(into).read(`${server.url}/large.wpt`);
    Object.values(into).forEach((t, i) => expect(t.data[0] === i + 0.5 && t.data[floats - 1] === i + 0.5).toBe(true));
    const size = server.files.get('/large.wpt')!.length;
    const sent = server.log.reduce((n, r) => n + r.bytes, 0);
    expect(sent).toBeGreaterThan(2 * size - 128 * 1024); // two passes
    expect(sent).toBeLessThan(2 * size + 128 * 1024);
  });

  it('retries 503 and 429 with backoff, then names the request; 404, 403 and writes are typed at once', async () => {
    await publishModel('/r.wpt');
    const storage = new HttpStorage({ baseUrl: server.url, retryDelayMs: 5 });
    server.faults.push({ status: 503 }, { status: 429 });
    const reader = await WptReader.open('/r.wpt', storage);
    await reader.close();
    expect(server.log.slice(0, 3).map((r) => r.status)).toEqual([503, 429, 206]);

    server.faults.push(...Array.from({ length: 4 }, () => ({ status: 503 })));
    let err = await WptReader.open('/r.wpt', storage).catch((e: unknown) => e);
    expect((err as CheckpointError).code).toBe('IO');
    expect((err as Error).message).toMatch(
      /GET http:\/\/127\.0\.0\.1:\d+\/r\.wpt \(bytes=-64512\) failed 4 times; the last: HTTP 503/,
    );

    err = await WptReader.open(`${server.url}/missing.wpt`).catch((e: unknown) => e);
    expect((err as CheckpointError).code).toBe('NOT_FOUND');
    server.faults.push({ status: 403 });
    err = await WptReader.open('/r.wpt', storage).catch((e: unknown) => e);
    expect((err as CheckpointError).code).toBe('PERMISSION_DENIED');
    expect(server.log.at(-1)!.status).toBe(403); // not retried

    err = await new Checkpoint({ w: randn([2], new Random(1)) })
      .write('/new.wpt', { storage })
      .catch((e: unknown) => e);
    expect((err as CheckpointError).code).toBe('READ_ONLY');
    expect((err as Error).message).toMatch(/HttpStorage reads files over HTTP\(S\) and cannot/);
  });

  it('a body cut short, a file truncated on the server, a file replaced while read: refused, never loaded', async () => {
    const w = randn([300, 300], new Random(2)); // 360 KB: entries beyond the first 64 KiB
    const storage = new MemoryStorage();
    await new Checkpoint({ w }).write('/t.wpt', { storage, codec: 'raw' });
    const bytes = storage.files.get('/t.wpt')!;
    server.files.set('/t.wpt', bytes);
    const http = new HttpStorage({ baseUrl: server.url, retryDelayMs: 5 });
    const into = () => ({ w: new Tensor(new Float32Array(w.size), [300, 300]) });

    // Dropped mid-body on every try: retried, then an error naming the request; the array untouched.
    const reader = await WptReader.open('/t.wpt', http);
    server.faults.push(...Array.from({ length: 4 }, () => ({ cutAfter: 1000 })));
    let err = await reader.read('w').catch((e: unknown) => e);
    await reader.close();
    expect((err as CheckpointError).code).toBe('IO');
    expect((err as Error).message).toMatch(/network error/);

    // Dropped once, then whole: the retry reads it.
    server.faults.push({ cutAfter: 10 });
    const target = into();
    await new Checkpoint(target).read('/t.wpt', { storage: http });
    expect(target.w.data).toEqual(w.data);

    // The object itself cut short on the server (its trailer gone): refused before anything is decoded.
    server.files.set('/t.wpt', bytes.subarray(0, bytes.length - 100));
    const t2 = into();
    err = await new Checkpoint(t2).read('/t.wpt', { storage: http }).catch((e: unknown) => e);
    expect(['TRUNCATED', 'OFFSET_OUT_OF_RANGE']).toContain((err as CheckpointError).code);
    expect(t2.w.data.every((v) => v === 0)).toBe(true);

    // Replaced between opening and reading the entry: the ETag no longer matches (412).
    server.files.set('/t.wpt', bytes);
    const r3 = await WptReader.open('/t.wpt', http);
    server.files.set('/t.wpt', bytes.slice()); // a new version with the same bytes: a new ETag
    err = await r3.read('w').catch((e: unknown) => e);
    await r3.close();
    expect((err as CheckpointError).code).toBe('CHECKSUM_MISMATCH');
    expect((err as Error).message).toMatch(/the file changed on the server while it was read/);
    expect((await readWpt('/t.wpt', http)).values.get('w')).toBeInstanceOf(Tensor);
  });
});

// The read-only contract, as a user's HttpStorage would prove itself.
readOnlyStorageContract('HttpStorage', () => ({
  storage: new HttpStorage({ baseUrl: server.url, retryDelayMs: 1 }),
  publish: async (path, bytes) => void server.files.set(`/${path}`, bytes),
}));
