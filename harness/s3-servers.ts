/**
 * Real servers that speak S3, started on 127.0.0.1 for the tests and benchmarks: s3rver (npm,
 * in this process's event loop or a child) and moto's server mode (the system python3's
 * `moto.server`, a child process). Each gets a fresh bucket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsClient } from 'aws4fetch';

export interface S3Server {
  kind: 's3rver' | 'moto';
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Makes a new, empty bucket and returns its name. */
  bucket(name?: string): Promise<string>;
  close(): Promise<void>;
}

let buckets = 0;

/** A port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function bucketMaker(endpoint: string, credentials: S3Server['credentials']) {
  const aws = new AwsClient({ ...credentials, service: 's3', region: 'us-east-1', retries: 0 });
  return async (name = `b${process.pid}x${buckets++}`) => {
    const r = await aws.fetch(`${endpoint}/${name}`, { method: 'PUT' });
    if (!r.ok) throw new Error(`could not create bucket ${name}: ${r.status} ${await r.text()}`);
    return name;
  };
}

/** CORS for pages on any origin: the headers a signed request and a ranged read send and read. */
export const CORS_XML = `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>
<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod>
<AllowedMethod>DELETE</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader>
<ExposeHeader>ETag</ExposeHeader><ExposeHeader>Content-Range</ExposeHeader><ExposeHeader>Content-Length</ExposeHeader>
</CORSRule></CORSConfiguration>`;

/** s3rver in this process (its files in a temporary directory, removed on close). */
export async function startS3rver(options: { corsBuckets?: string[] } = {}): Promise<S3Server> {
  const { default: S3rver } = await import('s3rver');
  const directory = mkdtempSync(join(tmpdir(), 'wpt-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: (options.corsBuckets ?? []).map((name) => ({ name, configs: [CORS_XML] })),
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  return {
    kind: 's3rver',
    endpoint,
    credentials,
    bucket: bucketMaker(endpoint, credentials),
    async close() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Whether this machine's python3 has moto's server (it is not on the pip index: the image's system Python has it). */
export async function motoAvailable(): Promise<boolean> {
  const child = spawn('python3', ['-c', 'import moto.server, flask'], { stdio: 'ignore' });
  return new Promise((resolve) => {
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

/** moto's server mode as a child process (state in its memory, gone on close). */
export async function startMoto(): Promise<S3Server> {
  const port = await freePort();
  const child: ChildProcess = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto.server exited (${child.exitCode}): ${log}`);
    const ok = await fetch(`${endpoint}/moto-api/`).then(
      (r) => r.ok || r.status === 404,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`moto.server did not answer on ${endpoint} in 30 s: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  return {
    kind: 'moto',
    endpoint,
    credentials,
    bucket: bucketMaker(endpoint, credentials),
    async close() {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    },
  };
}
