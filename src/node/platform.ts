/** Node's side of the platform seam (src/platform.ts). */
import * as zlib from 'node:zlib';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { type WorkerThread, type NativeZlib, type Platform, fetchBytes } from '../platform.js';
import { currentProcess, processState } from './process-identity.js';

/**
 * `length` bytes that the caller will overwrite entirely, uninitialized from the allocator,
 * which recycles memory the process already touched: zero-filled megabytes come from fresh
 * pages, and on a virtual machine the page faults cost several times the copy that fills them.
 */
export function allocUninitialized(length: number): Uint8Array {
  return new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
}

/** A worker thread running the module `name` (load-worker, compute-worker) of this folder. */
function startWorker(name: string): WorkerThread {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, here));
  // Running from the TypeScript sources (tests, tsx): a worker thread gets no loader of its
  // own, so it registers tsx (a dev dependency, there) before it loads the worker module.
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const worker = JSON.stringify(new URL(`./${name}.ts`, here).href);
  return new Worker(`import(${tsx}).then((api) => { api.register(); return import(${worker}); })`, { eval: true });
}

const require = createRequire(import.meta.url);

export const nodePlatform: Platform = {
  name: 'node',
  readBytes: async (url) =>
    new URL(url).protocol === 'file:' ? new Uint8Array(await readFile(new URL(url))) : fetchBytes(url),
  env: (name) => process.env[name],
  cores: () => availableParallelism(),
  allocUninitialized,
  zlib: zlib as unknown as NativeZlib,
  sha256: () => {
    const hash = createHash('sha256');
    return { update: (bytes) => void hash.update(bytes), hex: () => hash.digest('hex') };
  },
  identity: currentProcess,
  processState,
  onExit: (handler) => {
    process.on('exit', handler);
  },
  signals: {
    on: (signal, handler) => {
      process.on(signal, handler);
    },
    off: (signal, handler) => {
      process.off(signal, handler);
    },
    exit: (code) => process.exit(code),
    tell: (message) => {
      process.stderr.write(`${message}\n`);
    },
  },
  stdout: {
    write: (text) => {
      process.stdout.write(text);
    },
    get isTTY() {
      return Boolean(process.stdout.isTTY);
    },
    get columns() {
      return process.stdout.columns;
    },
  },
  startLoadWorker: () => startWorker('load-worker'),
  startComputeWorker: () => startWorker('compute-worker'),
  // gpu.js is an optional peer: require throws when it is not installed, and the backend says so.
  requireGpuJs: () => require('gpu.js'),
  importGpuJs: async () => require('gpu.js'),
};
