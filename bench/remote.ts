/**
 * Checkpoints on object storage, against real S3 servers on 127.0.0.1 (s3rver, and moto's
 * server mode where the system python3 has it), in one run, alternating, medians:
 * - how long a backup blocks training: CheckpointManager.save awaited (what BackupAndRestore
 *   waits for) with a TieredStorage (local disk + S3) beside the file system alone;
 * - uploading a 400 MB checkpoint through the tier (the background copy, from the local file to
 *   the bucket) beside a plain multipart PUT of the same bytes (aws4fetch, the same part size
 *   and parallelism), as MB/s and a ratio;
 * - what `inspect` of a remote checkpoint costs: requests and bytes (through a counting proxy);
 * - a resume on a new machine (an empty local tier: restoreOrInitialize reads the checkpoint from
 *   the bucket with ranged GETs, verifying it) beside a plain GET of the file.
 *   npm run bench -- remote [--quick] [--rounds N] [--mb 400]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsClient } from 'aws4fetch';
import {
  Checkpoint,
  CheckpointManager,
  Tensor,
  TieredStorage,
  WptReader,
  fsStorage,
  rootedAt,
} from '../src/node/index.js';
import { S3Storage } from '../src/s3/index.js';
import { startFaultProxy } from '../harness/fault-proxy.js';
import { type S3Server, motoAvailable, startMoto, startS3rver } from '../harness/s3-servers.js';
import { median, table } from './common.js';

const args = process.argv.slice(3);
const quick = args.includes('--quick');
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const ROUNDS = flag('--rounds', quick ? 2 : 3);
const MB = flag('--mb', quick ? 64 : 400);
const PART = 8 << 20;
const IN_FLIGHT = 4;

/** A model's state of `bytes` in four float32 tensors (random-looking, so no codec shrinks it). */
function stateOf(bytes: number): Checkpoint {
  const n = Math.floor(bytes / 16);
  const tensors = Array.from({ length: 4 }, (_, t) => {
    const data = new Float32Array(n);
    let x = 0x9e3779b9 ^ t;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      data[i] = (x >>> 0) / 2 ** 32 - 0.5;
    }
    return new Tensor(data, [n]);
  });
  return new Checkpoint(Object.fromEntries(tensors.map((t, i) => [`w${i}`, t])));
}

const s3 = (server: S3Server, bucket: string, endpoint = server.endpoint) =>
  new S3Storage({
    endpoint,
    bucket,
    credentials: server.credentials,
    partBytes: PART,
    partsInFlight: IN_FLIGHT,
    warn: () => undefined,
  });

/** A plain multipart upload of `bytes` (the baseline): create, parts of PART with IN_FLIGHT in flight, complete. */
async function plainMultipart(server: S3Server, bucket: string, key: string, bytes: Uint8Array): Promise<void> {
  const aws = new AwsClient({ ...server.credentials, service: 's3', region: 'us-east-1', retries: 0 });
  const url = `${server.endpoint}/${bucket}/${key}`;
  const created = await (await aws.fetch(`${url}?uploads`, { method: 'POST' })).text();
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created)![1];
  const etags: string[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i * PART < bytes.length; i = next++) {
      const r = await aws.fetch(`${url}?partNumber=${i + 1}&uploadId=${encodeURIComponent(uploadId)}`, {
        method: 'PUT',
        body: bytes.subarray(i * PART, (i + 1) * PART) as unknown as BodyInit,
      });
      etags[i] = r.headers.get('etag')!;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  const done = await aws.fetch(`${url}?uploadId=${encodeURIComponent(uploadId)}`, { method: 'POST', body: xml });
  if (!done.ok) throw new Error(`complete failed: ${done.status} ${await done.text()}`);
}

async function plainGet(server: S3Server, bucket: string, key: string): Promise<number> {
  const aws = new AwsClient({ ...server.credentials, service: 's3', region: 'us-east-1', retries: 0 });
  const r = await aws.fetch(`${server.endpoint}/${bucket}/${key}`);
  return (await r.arrayBuffer()).byteLength;
}

async function benchServer(server: S3Server, root: string): Promise<string[][]> {
  const rows: string[][] = [];
  const ms = (t0: number) => performance.now() - t0;

  // 1. Blocking time of a backup: a 12 MB state, saves awaited, fs alone vs tiered, alternating.
  const small = stateOf(12e6);
  const block = { fs: [] as number[], tiered: [] as number[] };
  const fsDir = join(root, 'fs-run');
  const tieredBucket = await server.bucket();
  const tiered = new TieredStorage({
    local: rootedAt(fsStorage, join(root, 'tier-local')),
    remote: s3(server, tieredBucket),
  });
  const managers = {
    fs: new CheckpointManager(small, fsDir, { storage: fsStorage, maxToKeep: 2 }),
    tiered: new CheckpointManager(small, 'run', { storage: tiered, maxToKeep: 2 }),
  };
  await Promise.all([managers.fs.ready, managers.tiered.ready]);
  for (let i = 1; i <= (quick ? 8 : 40); i++)
    for (const kind of (i % 2 ? ['fs', 'tiered'] : ['tiered', 'fs']) as Array<'fs' | 'tiered'>) {
      const t0 = performance.now();
      await managers[kind].save({ step: i });
      if (i > 2) block[kind].push(ms(t0)); // the first saves warm the caches
    }
  await managers.fs.close();
  await managers.tiered.close();
  const [bf, bt] = [median(block.fs), median(block.tiered)];
  rows.push([
    server.kind,
    'backup blocks training (12 MB)',
    `${bf.toFixed(1)} ms (fs)`,
    `${bt.toFixed(1)} ms (tiered)`,
    `+${(bt - bf).toFixed(2)} ms`,
  ]);

  // 2. Upload of a large checkpoint: the tier's copy of the local file vs a plain multipart PUT.
  const big = stateOf(MB * 1e6);
  const localDir = join(root, 'big-local');
  await big.write(join(localDir, 'run/ckpt-1.wpt'), { storage: fsStorage, codec: 'raw' });
  const bytes = new Uint8Array(await (await import('node:fs/promises')).readFile(join(localDir, 'run/ckpt-1.wpt')));
  const up = { tier: [] as number[], plain: [] as number[] };
  for (let r = 0; r < ROUNDS; r++)
    for (const kind of (r % 2 ? ['plain', 'tier'] : ['tier', 'plain']) as Array<'tier' | 'plain'>) {
      const bucket = await server.bucket();
      const t0 = performance.now();
      if (kind === 'plain') await plainMultipart(server, bucket, 'run/ckpt-1.wpt', bytes);
      else {
        const storage = new TieredStorage({ local: rootedAt(fsStorage, localDir), remote: s3(server, bucket) });
        await storage.mkdirp('run');
        // The file appears under its name on the local tier (as a save's rename makes it): the upload starts.
        await fsStorage.rename(join(localDir, 'run/ckpt-1.wpt'), join(localDir, 'run/ckpt-1.tmp'));
        const t1 = performance.now();
        await storage.rename('run/ckpt-1.tmp', 'run/ckpt-1.wpt');
        await storage.flush();
        up.tier.push((bytes.length / 1e6 / (performance.now() - t1)) * 1000);
        continue;
      }
      up.plain.push((bytes.length / 1e6 / ms(t0)) * 1000);
    }
  const [ut, upl] = [median(up.tier), median(up.plain)];
  rows.push([
    server.kind,
    `upload of a ${MB} MB checkpoint`,
    `${upl.toFixed(0)} MB/s (plain multipart)`,
    `${ut.toFixed(0)} MB/s (tier)`,
    `${(ut / upl).toFixed(2)}×`,
  ]);

  // 3. inspect of a remote checkpoint: requests and bytes, counted by a proxy.
  const bucket = await server.bucket();
  await plainMultipart(server, bucket, 'run/ckpt-1.wpt', bytes);
  const proxy = await startFaultProxy(server.endpoint);
  const viaProxy = s3(server, bucket, proxy.endpoint);
  await viaProxy.list('run'); // the bucket check, before counting
  proxy.log.length = 0;
  const reader = await WptReader.open('run/ckpt-1.wpt', viaProxy);
  await reader.close();
  const gets = proxy.log.filter((l) => /ckpt-1/.test(l.url));
  rows.push([
    server.kind,
    'inspect (header only)',
    '',
    `${gets.length} requests, ${gets.reduce((n, l) => n + l.down, 0)} bytes`,
    '',
  ]);
  await proxy.close();

  // 4. Resume on a new machine (empty local tier) vs a plain GET of the file.
  const resume = { restore: [] as number[], get: [] as number[] };
  const manifest = new CheckpointManager(stateOf(1e3), 'm', { storage: s3(server, bucket) });
  await manifest.close();
  for (let r = 0; r < ROUNDS; r++)
    for (const kind of (r % 2 ? ['get', 'restore'] : ['restore', 'get']) as Array<'get' | 'restore'>) {
      const t0 = performance.now();
      if (kind === 'get') await plainGet(server, bucket, 'run/ckpt-1.wpt');
      else {
        const machine = new TieredStorage({
          local: rootedAt(fsStorage, join(root, `${server.kind}-machine-${r}`)),
          remote: s3(server, bucket),
        });
        await big.read('run/ckpt-1.wpt', { storage: machine });
      }
      resume[kind].push(ms(t0) / 1000);
    }
  const [rr, rg] = [median(resume.restore), median(resume.get)];
  rows.push([
    server.kind,
    `resume on a new machine (${MB} MB)`,
    `${rg.toFixed(2)} s (plain GET)`,
    `${rr.toFixed(2)} s (restore, verified)`,
    `${(rr / rg).toFixed(2)}×`,
  ]);
  return rows;
}

export async function run(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'wpt-bench-remote-'));
  const rows: string[][] = [];
  try {
    const starters: Array<() => Promise<S3Server>> = [startS3rver];
    if (!quick && (await motoAvailable())) starters.push(startMoto);
    else if (!quick) console.log('moto.server is missing: s3rver only');
    for (const start of starters) {
      const server = await start();
      try {
        rows.push(...(await benchServer(server, root)));
      } finally {
        await server.close();
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const text = table(['server', 'measure', 'baseline', 'Waypoint', 'difference'], rows);
  console.log(text);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/remote.txt', `${new Date().toISOString()} rounds ${ROUNDS}\n${text}\n`);
}
