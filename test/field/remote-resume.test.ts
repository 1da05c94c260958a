/**
 * A run that outlives its machine: BackupAndRestore over a TieredStorage whose remote tier is
 * a real S3 server (moto, else s3rver), in child processes killed with SIGKILL at random
 * moments — uploads are slowed so that kills land in the middle of them — each started again
 * on a "new machine" (an empty local directory, the same bucket), until one finishes. The
 * result is bit-identical to a run never interrupted.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random, readFileIfExists, readWpt } from '../../src/node/index.js';
import { S3Storage } from '../../src/s3/index.js';
import { type S3Server, motoAvailable, startMoto, startS3rver } from '../../harness/s3-servers.js';

const root = mkdtempSync(join(tmpdir(), 'wpt-remote-resume-'));
let server: S3Server;
beforeAll(async () => {
  server = (await motoAvailable()) ? await startMoto() : await startS3rver();
  if (server.kind === 's3rver') console.log('moto.server is missing here: the remote tier is s3rver');
}, 60_000);
afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

const CHILD = join(import.meta.dirname, '..', 'helpers', 'remote-resume-child.ts');
let machines = 0;

/**
 * Runs the child on a new machine, killing it `killAfterMs` after its training started (if it
 * still runs); resolves with how it ended and how long its training ran.
 */
function runOnNewMachine(
  bucket: string,
  out: string,
  killAfterMs: number | null,
): Promise<{ end: 'finished' | 'killed'; trainingMs: number; local: string }> {
  const local = join(root, `machine-${machines++}`);
  // node --import tsx: one process (the tsx CLI's wrapper would take the SIGKILL instead).
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, local, server.endpoint, bucket, '25', out], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WAYPOINT_S3_KEY: server.credentials.accessKeyId },
  });
  let stderr = '';
  let trainingSince = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  child.stderr.on('data', (d) => (stderr += d));
  let lastBatchAt = 0;
  child.stdout.on('data', (d: Buffer) => {
    if (d.toString().includes('batch')) lastBatchAt = Date.now();
    if (!d.toString().includes('training') || trainingSince) return;
    trainingSince = Date.now();
    if (killAfterMs !== null) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  });
  return new Promise((resolve, reject) =>
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      // From the first batch to the last: what a kill should land in (the end waits for the uploads).
      const trainingMs = trainingSince ? lastBatchAt - trainingSince : 0;
      if (signal === 'SIGKILL') resolve({ end: 'killed', trainingMs, local });
      else if (code === 0) resolve({ end: 'finished', trainingMs, local });
      else reject(new Error(`the child failed (${code}): ${stderr}`));
    }),
  );
}

describe('a run resumed on a new machine from object storage', () => {
  it('killed with SIGKILL at random moments, in the middle of uploads, it finishes bit-identical to a straight run', async () => {
    const straightOut = join(root, 'straight.json');
    const straight = await runOnNewMachine(await server.bucket(), straightOut, null);
    expect(straight.end).toBe('finished');
    const bucket = await server.bucket();
    const out = join(root, 'resumed.json');
    const rng = new Random(Number(process.env.WAYPOINT_SEED ?? 7));
    let kills = 0;
    let midUpload = 0;
    const remote = new S3Storage({
      endpoint: server.endpoint,
      bucket,
      credentials: server.credentials,
      warn: () => undefined,
    });
    for (let attempt = 0; attempt < 16 && !existsSync(out); attempt++) {
      // A kill somewhere in the first half of a straight run's training: each run gets a little further.
      const after = attempt < 12 ? Math.floor(straight.trainingMs * (0.1 + 0.4 * rng.uniform())) : null;
      const run = await runOnNewMachine(bucket, out, after);
      if (run.end !== 'killed') continue;
      kills++;
      // What the dead machine's disk held against what outlived it: the remote tier behind means a kill mid-upload.
      const manifest = 'run/backup/manifest.json';
      const localBytes = existsSync(join(run.local, manifest)) ? readFileSync(join(run.local, manifest), 'utf8') : null;
      const remoteBytes = await readFileIfExists(remote, manifest);
      if (localBytes !== null && (remoteBytes === null || new TextDecoder().decode(remoteBytes) !== localBytes))
        midUpload++;
      // Whatever the moment, the remote tier's manifest names only checkpoints that are there and verify.
      if (remoteBytes !== null)
        for (const { file } of JSON.parse(new TextDecoder().decode(remoteBytes)).checkpoints as Array<{ file: string }>)
          await readWpt(`run/backup/${file}`, remote);
    }
    expect(midUpload).toBeGreaterThanOrEqual(1);
    expect(kills).toBeGreaterThanOrEqual(3);
    expect(existsSync(out)).toBe(true);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(JSON.parse(readFileSync(straightOut, 'utf8')));
  }, 300_000);
});
