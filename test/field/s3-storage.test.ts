/**
 * S3Storage against two independent servers that speak S3, started here on 127.0.0.1:
 * s3rver (npm) and moto's server mode (the system python3's; SKIPPED, saying so, where it is
 * missing), directly and through a proxy that injects faults (test/helpers/fault-proxy.ts).
 * What each server supports decides what is asserted: moto enforces conditional writes and
 * lists unfinished multipart uploads; s3rver does neither (nor suffix ranges), so there the
 * lock falls back to a lease read back after writing, and the storage says so.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Checkpoint, CheckpointError, CheckpointManager, Tensor, readWpt, writeWpt } from '../../src/node/index.js';
import { S3Storage, type S3StorageOptions } from '../../src/s3/index.js';
import { storageContract } from '../../src/testing/index.js';
import { type FaultKind, type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { type S3Server, motoAvailable, startMoto, startS3rver } from '../../harness/s3-servers.js';

const hasMoto = await motoAvailable();
if (!hasMoto) console.log('SKIPPED: the moto server tests (python3 has no moto.server here); s3rver runs them all');

const servers: Record<string, S3Server> = {};
let proxy: FaultProxy;
beforeAll(async () => {
  servers.s3rver = await startS3rver();
  if (hasMoto) servers.moto = await startMoto();
  proxy = await startFaultProxy((servers.moto ?? servers.s3rver).endpoint);
}, 60_000);
afterAll(async () => {
  await proxy?.close();
  for (const s of Object.values(servers)) await s.close();
});

const warnings: string[] = [];
const storageOn = async (server: S3Server, options: Partial<S3StorageOptions> = {}) =>
  new S3Storage({
    endpoint: server.endpoint,
    bucket: await server.bucket(),
    credentials: server.credentials,
    prefix: 'runs/a',
    retryDelayMs: 5,
    warn: (m) => warnings.push(m),
    ...options,
  });

/** A storage on the proxy, in front of the server the proxy was started for. */
const proxied = async (options: Partial<S3StorageOptions> = {}) => {
  const server = servers.moto ?? servers.s3rver;
  return storageOn(server, { endpoint: proxy.endpoint, ...options });
};

let n = 0;
for (const kind of ['s3rver', 'moto'] as const) {
  if (kind === 'moto' && !hasMoto) continue;
  storageContract(`S3Storage on ${kind}`, async () => ({ storage: await storageOn(servers[kind]), dir: `d${n++}` }));
}

// The contract again with every fifth request failing (dropped, 503 SlowDown, 500): retries mend them all.
let flaky: FaultProxy;
beforeAll(async () => {
  flaky = await startFaultProxy((servers.moto ?? servers.s3rver).endpoint);
  const faults: FaultKind[] = [
    { kind: 'drop' },
    { kind: 'status', status: 503, code: 'SlowDown' },
    { kind: 'status', status: 500, code: 'InternalError' },
  ];
  flaky.plan({ every: 5, times: Number.MAX_SAFE_INTEGER, fault: faults });
});
afterAll(() => flaky?.close());
storageContract('S3Storage through a proxy failing every fifth request', async () => {
  const server = servers.moto ?? servers.s3rver;
  return { storage: await storageOn(server, { endpoint: flaky.endpoint }), dir: `f${n++}` };
});

const bytes = (length: number, seed: number) =>
  Uint8Array.from({ length }, (_, i) => (i * 131 + seed * 7 + (i >> 11)) & 255);

async function readAll(storage: S3Storage, path: string): Promise<Uint8Array> {
  const h = await storage.openRead(path);
  return h.read(0, h.size);
}

describe('S3Storage uploads and downloads', () => {
  it('a file of several parts goes up as one multipart upload of parallel parts and reads back whole', async () => {
    const storage = await proxied({ partBytes: 5 << 20, partsInFlight: 3 });
    await storage.mkdirp('big');
    const data = bytes((17 << 20) + 12345, 1);
    proxy.log.length = 0;
    const h = await storage.createAtomic('big/f.bin');
    for (let at = 0; at < data.length; at += 1 << 20) await h.write([data.subarray(at, at + (1 << 20))]);
    await h.close();
    const parts = proxy.log.filter((r) => r.method === 'PUT' && /partNumber=/.test(r.url));
    expect(parts.map((p) => Number(/partNumber=(\d+)/.exec(p.url)![1])).sort()).toEqual([1, 2, 3, 4]);
    expect(parts.reduce((s, p) => s + p.up, 0)).toBe(data.length);
    expect(proxy.log.filter((r) => r.method === 'POST').length).toBe(2); // create and complete
    expect(Buffer.compare(await readAll(storage, 'big/f.bin'), data)).toBe(0);
  });

  it('a connection dropped in the middle of a part, and 503s, are retried: the file arrives whole', async () => {
    const storage = await proxied({ partBytes: 5 << 20 });
    await storage.mkdirp('d');
    const data = bytes(11 << 20, 2);
    proxy.plan({ method: 'PUT', url: /partNumber=2/, fault: { kind: 'dropMidUpload', afterBytes: 1 << 20 } });
    proxy.plan({
      method: 'PUT',
      url: /partNumber=3/,
      times: 2,
      fault: { kind: 'status', status: 503, code: 'SlowDown' },
    });
    const h = await storage.createAtomic('d/f.bin');
    await h.write([data]);
    await h.close();
    expect(proxy.pending).toBe(0);
    expect(Buffer.compare(await readAll(storage, 'd/f.bin'), data)).toBe(0);
  });

  it('a download cut short is tried again; cut short every time, it fails and the checkpoint is never loaded', async () => {
    const storage = await proxied();
    const w = new Tensor(
      new Float32Array(300_000).map((_, i) => Math.cos(i)),
      [300, 1000],
    );
    await writeWpt('m/c.wpt', [{ key: 'w', kind: 'tensor', value: w }], { kind: 'checkpoint', storage, codec: 'raw' });
    proxy.plan({ method: 'GET', url: /c\.wpt/, times: 2, fault: { kind: 'truncate', afterBytes: 1000 } });
    const back = (await readWpt('m/c.wpt', storage)).values.get('w') as Tensor;
    expect(back.data).toEqual(w.data);
    proxy.plan({ method: 'GET', url: /c\.wpt/, times: 100, fault: { kind: 'truncate', afterBytes: 1000 } });
    const failed = await readWpt('m/c.wpt', storage).catch((e: CheckpointError) => e);
    proxy.clear();
    expect(failed).toBeInstanceOf(CheckpointError);
    expect((failed as CheckpointError).message).toMatch(/c\.wpt.*failed 5 times.*network error/);
  });

  it('throttling past the retries is a typed error naming the request', async () => {
    const storage = await proxied({ attempts: 3 });
    await storage.mkdirp('t');
    proxy.plan({ method: 'PUT', url: /t\/x\.bin/, times: 3, fault: { kind: 'status', status: 503, code: 'SlowDown' } });
    const h = await storage.createAtomic('t/x.bin');
    await h.write([bytes(100, 3)]);
    const e = await h.close().catch((err: CheckpointError) => err);
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as CheckpointError).code).toBe('IO');
    expect((e as CheckpointError).message).toMatch(
      /PUT s3:\/\/\S+\/runs\/a\/t\/x\.bin failed 3 times; the server kept throttling: the last: 503 SlowDown/,
    );
    await expect(storage.openRead('t/x.bin')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('S3Storage errors', () => {
  it('a wrong secret key, a missing bucket and a refused permission are typed errors that say what to check', async () => {
    // Neither server checks V4 signatures (moto takes any credentials, s3rver knows access key ids only):
    // an unknown key id on s3rver, a signature refused by the proxy standing in for S3.
    const server = servers.s3rver;
    const unknownKey = new S3Storage({
      endpoint: server.endpoint,
      bucket: await server.bucket(),
      credentials: { accessKeyId: 'WHO', secretAccessKey: 'secret-value' },
    });
    const e1 = await unknownKey.list('.').catch((e: CheckpointError) => e);
    expect(e1).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect((e1 as Error).message).toMatch(/check AWS_ACCESS_KEY_ID/);
    expect((e1 as Error).message).not.toMatch(/secret-value/);
    const signed = await proxied();
    proxy.plan({ fault: { kind: 'status', status: 403, code: 'SignatureDoesNotMatch' } });
    const e0 = await signed.list('.').catch((e: CheckpointError) => e);
    expect(e0).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect((e0 as Error).message).toMatch(/check AWS_SECRET_ACCESS_KEY and AWS_REGION/);
    const noBucket = new S3Storage({
      endpoint: server.endpoint,
      bucket: 'no-such-bucket',
      credentials: server.credentials,
    });
    const e2 = await noBucket.openRead('x.wpt').catch((e: CheckpointError) => e);
    expect(e2).toMatchObject({ code: 'NOT_FOUND' });
    expect((e2 as Error).message).toMatch(/no bucket 'no-such-bucket'/);
    const storage = await proxied();
    await storage.mkdirp('p');
    proxy.plan({ method: 'PUT', url: /p\/y\.bin/, fault: { kind: 'status', status: 403, code: 'AccessDenied' } });
    const h = await storage.createAtomic('p/y.bin');
    await h.write([bytes(10, 1)]);
    const e3 = await h.close().catch((e: CheckpointError) => e);
    expect(e3).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect((e3 as Error).message).toMatch(/no permission for PUT on s3:\/\/\S+\/runs\/a\/p\/y\.bin/);
  });
});

describe('checkpoints on S3', () => {
  const state = (v: number) => new Checkpoint({ w: new Tensor(new Float32Array(64).fill(v), [8, 8]) });

  for (const kind of ['s3rver', 'moto'] as const) {
    it(`a CheckpointManager saves, retains and restores on ${kind}`, async (ctx) => {
      if (!servers[kind]) return ctx.skip();
      const storage = await storageOn(servers[kind]);
      const manager = new CheckpointManager(state(1), 'run', { storage, maxToKeep: 2, lockLeaseMs: 5_000 });
      for (let step = 1; step <= 4; step++) {
        manager.checkpoint as Checkpoint & { trackables?: unknown };
        await manager.save({ step });
      }
      await manager.close();
      expect((await storage.list('run')).sort()).toEqual(['ckpt-3.wpt', 'ckpt-4.wpt', 'manifest.json']);
      const restored = state(0);
      const again = new CheckpointManager(restored, 'run', { storage });
      expect(await again.restoreOrInitialize()).toBe('run/ckpt-4.wpt');
      await again.close();
    });
  }

  it('two writers racing one prefix: one takes the lock, the other is LOCKED (conditional create on moto, a lease read back on s3rver)', async () => {
    for (const server of Object.values(servers)) {
      const bucket = await server.bucket();
      const make = () =>
        new S3Storage({ endpoint: server.endpoint, bucket, credentials: server.credentials, warn: () => undefined });
      const [a, b] = [
        new CheckpointManager(state(1), 'run', { storage: make() }),
        new CheckpointManager(state(2), 'run', { storage: make() }),
      ];
      const outcomes = await Promise.allSettled([a.ready, b.ready]);
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      expect(
        won.length,
        `${server.kind}: ${outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'ok')).join(' | ')}`,
      ).toBe(1);
      const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      expect((lost.reason as CheckpointError).code).toBe('LOCKED');
      if (server.kind === 's3rver')
        expect((lost.reason as Error).message).toMatch(
          /this store ignores conditional writes, so the lock is a lease read back/,
        );
      await (outcomes[0].status === 'fulfilled' ? a : b).close();
    }
  });

  it('on a server with conditional writes, a manifest committed by another writer is never overwritten', async (ctx) => {
    if (!servers.moto) return ctx.skip();
    const bucket = await servers.moto.bucket();
    const make = () =>
      new S3Storage({ endpoint: servers.moto.endpoint, bucket, credentials: servers.moto.credentials });
    const first = new CheckpointManager(state(1), 'run', { storage: make() });
    await first.save({ step: 1 });
    // A second writer takes the lock over (as `takeOverLock` allows) and commits.
    const second = new CheckpointManager(state(2), 'run', {
      storage: make(),
      takeOverLock: true,
      warn: () => undefined,
    });
    await second.save({ step: 2 });
    const e = await first.save({ step: 3 }).catch((err: CheckpointError) => err);
    expect(e).toMatchObject({ code: 'LOCKED' });
    const manifest = JSON.parse(new TextDecoder().decode(await readAll(make(), 'run/manifest.json')));
    expect(manifest.checkpoints.map((c: { file: string }) => c.file)).toEqual(['ckpt-1.wpt', 'ckpt-2.wpt']);
    await second.close();
  });

  it('an upload a killed writer left unfinished is aborted by the next manager (where the server lists them)', async (ctx) => {
    if (!servers.moto) return ctx.skip();
    const storage = await storageOn(servers.moto, { partBytes: 5 << 20 });
    await storage.mkdirp('run');
    const orphan = await storage.createAtomic('run/ckpt-9.wpt');
    await orphan.write([bytes(6 << 20, 1)]); // one part sent, then the writer "dies"
    await new Promise((r) => setTimeout(r, 200));
    const seen: string[] = [];
    const manager = new CheckpointManager(state(1), 'run', { storage, warn: (m) => seen.push(m) });
    await manager.ready;
    expect(seen.join('\n')).toMatch(/aborted 1 unfinished upload\(s\) left in run: ckpt-9\.wpt/);
    expect(await storage.abortIncompleteWrites('run', () => true)).toEqual([]);
    await manager.close();
  });
});
