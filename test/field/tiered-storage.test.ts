/**
 * TieredStorage: a local tier and a remote one (memory, or an S3Storage on s3rver and moto)
 * that replays the local tier's changes in order, in the background. The remote tier is at
 * every moment a state the local tier was in (a property over random runs of saves and
 * retention, looked at while uploads are in flight); a new machine with an empty local tier
 * restores from it; uploads that fail are warned about, or fail the next save, and catch up.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Checkpoint,
  CheckpointError,
  CheckpointManager,
  MemoryStorage,
  Tensor,
  TieredStorage,
  type TieredStorageOptions,
  fsStorage,
  readWpt,
  rootedAt,
} from '../../src/node/index.js';
import { S3Storage } from '../../src/s3/index.js';
import { storageContract } from '../../src/testing/index.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { type S3Server, motoAvailable, startMoto, startS3rver } from '../../harness/s3-servers.js';

const hasMoto = await motoAvailable();
if (!hasMoto)
  console.log('SKIPPED: TieredStorage over moto (python3 has no moto.server here); s3rver runs the same tests');

const root = mkdtempSync(join(tmpdir(), 'wpt-tiered-'));
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
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
const localDir = () => join(root, `l${n++}`);
const s3On = async (server: S3Server, endpoint = server.endpoint, bucket?: string) =>
  new S3Storage({
    endpoint,
    bucket: bucket ?? (await server.bucket()),
    credentials: server.credentials,
    retryDelayMs: 5,
    warn: () => undefined,
  });

const localTier = () => rootedAt(fsStorage, localDir());

storageContract('TieredStorage (memory over memory)', () => ({
  storage: new TieredStorage({ local: new MemoryStorage(), remote: new MemoryStorage() }),
  dir: 'run',
}));
for (const kind of ['s3rver', 'moto'] as const)
  storageContract(`TieredStorage (the file system over S3Storage on ${kind})`, async () => {
    if (!servers[kind])
      return { storage: new TieredStorage({ local: new MemoryStorage(), remote: new MemoryStorage() }), dir: 'run' };
    return { storage: new TieredStorage({ local: localTier(), remote: await s3On(servers[kind]) }), dir: `run${n++}` };
  });

const state = (v: number) => new Checkpoint({ w: new Tensor(new Float32Array(256).fill(v), [16, 16]), step: v });
/** A state whose checkpoint passes 1 MiB (random values: no codec shrinks it below). */
const largeState = () =>
  new Checkpoint({
    w: new Tensor(
      new Float32Array(300_000).map(() => Math.random()),
      [300_000],
    ),
  });

/** A remote tier that takes `delayMs` for every change (uploads lag behind the saves), and copies its files after each change into `states`. */
function slowRemote(delayMs: () => number, states: MemoryStorage[]): MemoryStorage {
  const remote = new MemoryStorage();
  for (const method of ['createExclusive', 'rename', 'remove'] as const) {
    const original = remote[method].bind(remote) as (...a: unknown[]) => Promise<unknown>;
    (remote as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      await new Promise((r) => setTimeout(r, delayMs()));
      const result = await original(...args);
      if (method !== 'createExclusive') states.push(snapshotOf(remote));
      return result;
    };
  }
  return remote;
}

/** The remote tier's files at this moment (a copy), as a new machine would find them. */
const snapshotOf = (m: MemoryStorage) => {
  const copy = new MemoryStorage();
  for (const [p, b] of m.files) copy.files.set(p, b.slice());
  return copy;
};

/** Whether a snapshot of the remote tier is usable: its manifest names only files there, and each verifies. */
async function consistent(snapshot: MemoryStorage): Promise<string | null> {
  const bytes = snapshot.files.get('run/manifest.json');
  if (!bytes) return null;
  const manifest = JSON.parse(new TextDecoder().decode(bytes)) as { checkpoints: Array<{ file: string }> };
  for (const { file } of manifest.checkpoints) {
    if (!snapshot.files.has(`run/${file}`)) return `the manifest names ${file}, which is not on the remote tier`;
    const bad = await readWpt(`run/${file}`, snapshot).then(
      () => null,
      (e: Error) => `run/${file} does not verify: ${e.message}`,
    );
    if (bad) return bad;
  }
  return null;
}

describe('TieredStorage', () => {
  it('every state the remote tier goes through is a state the local tier was in: its manifest names only checkpoints there, which verify (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 3, maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 4, maxLength: 4 }),
        // Checkpoints past 1 MiB are uploaded from the local file, not from a copy taken at the change.
        fc.boolean(),
        async (maxToKeep, delays, pauses, large) => {
          let d = 0;
          const states: MemoryStorage[] = [];
          const remote = slowRemote(() => delays[d++ % delays.length], states);
          const storage = new TieredStorage({ local: new MemoryStorage(), remote });
          const manager = new CheckpointManager(large ? largeState() : state(0), 'run', { storage, maxToKeep });
          for (let step = 1; step <= 6; step++) {
            await manager.save({ step });
            await new Promise((r) => setTimeout(r, pauses[step % pauses.length]));
          }
          await manager.close();
          // Every state the remote tier went through, as a new machine starting then would find it.
          const problems = (await Promise.all(states.map(consistent))).filter((p) => p !== null);
          expect(problems).toEqual([]);
          // Once flushed, the remote tier holds exactly what the local one does.
          expect([...remote.files.keys()].filter((p) => p.endsWith('.wpt')).sort()).toEqual(
            (await storage.local.list('run'))
              .filter((p) => p.endsWith('.wpt'))
              .map((p) => `run/${p}`)
              .sort(),
          );
        },
      ),
      { numRuns: 25 },
    );
  });

  for (const kind of ['s3rver', 'moto'] as const) {
    it(`a new machine (an empty local tier) restores the newest checkpoint from ${kind}`, async (ctx) => {
      if (!servers[kind]) return ctx.skip();
      const bucket = await servers[kind].bucket();
      const first = new TieredStorage({
        local: localTier(),
        remote: await s3On(servers[kind], undefined, bucket),
        keepLocal: 1,
      });
      const manager = new CheckpointManager(state(0), 'run', { storage: first, maxToKeep: 3 });
      for (let step = 1; step <= 5; step++) await manager.save({ step });
      await manager.close();
      expect((await first.local.list('run')).filter((f) => f.endsWith('.wpt'))).toEqual(['ckpt-5.wpt']); // keepLocal: 1
      expect(manager.uploads).toMatchObject({ pending: [], failed: null });
      const second = new TieredStorage({ local: localTier(), remote: await s3On(servers[kind], undefined, bucket) });
      const restored = new CheckpointManager(state(-1), 'run', { storage: second });
      expect(await restored.restoreOrInitialize()).toBe('run/ckpt-5.wpt');
      expect(await restored.checkpoint.read('run/ckpt-3.wpt', { storage: second }).then(() => 'read')).toBe('read'); // from the remote tier only
      await restored.close();
    });
  }

  /** A manager over a tier whose remote is behind the proxy, with every PUT of ckpt-1.wpt refused by `status`. */
  async function failingUploads(options: Partial<TieredStorageOptions>, status: number, code: string) {
    const server = servers.moto ?? servers.s3rver;
    const bucket = await server.bucket();
    const storage = new TieredStorage({
      local: localTier(),
      remote: await s3On(server, proxy.endpoint, bucket),
      ...options,
    });
    const manager = new CheckpointManager(state(0), 'run', { storage });
    await manager.ready;
    proxy.plan({ method: 'PUT', url: /ckpt-1\.wpt/, times: 1000, fault: { kind: 'status', status, code } });
    await manager.save({ step: 1 });
    return { storage, manager, remote: () => s3On(server, undefined, bucket) };
  }

  it('an upload that keeps failing is warned about, training goes on, and the remote catches up once it answers', async () => {
    const warnings: string[] = [];
    const { storage, manager, remote } = await failingUploads(
      { attempts: 2, retryDelayMs: 5, warn: (m) => warnings.push(m) },
      503,
      'SlowDown',
    );
    await expect(storage.flush()).rejects.toThrow(/the remote tier is behind: copying run\/ckpt-1\.wpt failed/);
    expect(manager.uploads?.failed?.path).toBe('run/ckpt-1.wpt');
    expect(warnings.join('\n')).toMatch(
      /uploading run\/ckpt-1\.wpt on the remote tier failed after 2 tries.*tried again at the next save/,
    );
    proxy.clear();
    await manager.save({ step: 2 });
    await manager.close();
    expect((await (await remote()).list('run')).sort()).toEqual(['ckpt-1.wpt', 'ckpt-2.wpt', 'manifest.json']);
  });

  it("with onUploadError: 'throw', the save after a failed upload fails with it (for onSaveError to decide)", async () => {
    const { storage, manager } = await failingUploads(
      { attempts: 1, onUploadError: 'throw', warn: () => undefined },
      500,
      'InternalError',
    );
    await storage.flush().catch(() => undefined);
    const e = await manager.save({ step: 2 }).catch((err: CheckpointError) => err);
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as Error).message).toMatch(/remote tier is behind: copying run\/ckpt-1\.wpt failed/);
    proxy.clear();
    await manager.save({ step: 3 });
    await manager.close();
  });
});
