/**
 * The CLI on object storage, against a real S3 server (moto, else s3rver) through the fault
 * proxy that also counts the requests: `waypoint train --run s3://…` trains with its backups
 * saved locally first and uploaded, a second machine (another --local) continues the run from
 * the bucket, `inspect` of an s3:// file reads the header only, and the credentials from the
 * environment never appear in what the CLI prints.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { type S3Server, motoAvailable, startMoto, startS3rver } from '../../harness/s3-servers.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js');
const root = mkdtempSync(join(tmpdir(), 'wpt-cli-s3-'));
const SECRET = 'secret-value-never-printed';
let server: S3Server;
let proxy: FaultProxy;
beforeAll(async () => {
  server = (await motoAvailable()) ? await startMoto() : await startS3rver();
  proxy = await startFaultProxy(server.endpoint);
}, 60_000);
afterAll(async () => {
  await proxy?.close();
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: root,
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL: proxy.endpoint,
        ...env,
      },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (status) => resolve({ status, out }));
  });
}

describe('waypoint on s3:// paths', () => {
  it('trains to a bucket, continues on another machine, and inspects a file from its header alone', async () => {
    const bucket = await server.bucket();
    const run = `s3://${bucket}/runs/mnist`;
    const first = await cli(['train', '--model', 'mlp', '--epochs', '1', '--run', run, '--local', 'machine-a']);
    expect(first.status, first.out).toBe(0);
    expect(first.out).toMatch(new RegExp(`run directory ${run}`));
    expect(first.out).toMatch(new RegExp(`last model: ${run}/last.wpt`));

    // Another machine: an empty local tier; the run continues from what the bucket holds.
    const second = await cli(['train', '--model', 'mlp', '--epochs', '2', '--run', run, '--local', 'machine-b']);
    expect(second.status, second.out).toBe(0);
    expect(second.out).toMatch(/continuing the finished run .* from epoch 2 to 2/);
    expect(readdirSync(join(root, 'machine-b'), { recursive: true }).join()).toMatch(/last\.wpt/);

    proxy.log.length = 0;
    const inspected = await cli(['inspect', `${run}/last.wpt`]);
    expect(inspected.status, inspected.out).toBe(0);
    expect(inspected.out).toMatch(/last\.wpt: model, format/);
    const gets = proxy.log.filter((r) => r.method === 'GET' && /last\.wpt/.test(r.url));
    expect(gets.length).toBeLessThanOrEqual(2);
    expect(gets.reduce((n, r) => n + r.down, 0)).toBeLessThan(64 * 1024);

    for (const r of [first, second, inspected]) expect(r.out).not.toContain(SECRET);
  }, 180_000);

  it('missing credentials and a missing bucket are one line that says what to set or check', async () => {
    const noKey = await cli(['inspect', `s3://whatever/x.wpt`], { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' });
    expect(noKey.status).not.toBe(0);
    expect(noKey.out).toMatch(
      /no credentials for s3:\/\/whatever\/x\.wpt: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
    );
    const noBucket = await cli(['inspect', `s3://no-such-bucket-here/x.wpt`]);
    expect(noBucket.status).not.toBe(0);
    expect(noBucket.out).toMatch(/there is no bucket 'no-such-bucket-here'/);
    expect(noBucket.out).not.toContain(SECRET);
  });
});
