/**
 * A page's (or a worker's) side of the platform seam: fetch for data files, the Web Locks API
 * for the checkpoint directory lock, no signals, no stdout (the progress bar logs to the
 * console or renders into an element), load threads on module Web Workers.
 */
import { type HeldExclusiveLock, type WorkerThread, type Platform, fetchBytes } from '../platform.js';

/** A page has no pid: a random one names it in lock files and temporary names. */
const pageId = 1 + Math.floor(Math.random() * 2 ** 31);

/** Holds the Web Lock `name` until released, or resolves null at once when another context holds it. */
function exclusiveLock(name: string): Promise<HeldExclusiveLock | null> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    locks
      .request(name, { mode: 'exclusive', ifAvailable: true }, async (lock) => {
        if (lock === null) {
          resolve(null);
          return;
        }
        resolve({ release });
        await released; // the browser holds the lock until this callback's promise settles, or the page goes
      })
      .catch(reject);
  });
}

/**
 * A load thread as a module Web Worker running load-worker.js from beside this module (where a
 * bundler emits it: Vite does for this pattern; elsewhere, serve dist/src/browser/load-worker.js
 * there). A worker that cannot start reports an error, and loads stay on the calling thread.
 */
function startLoadWorker(): WorkerThread {
  const worker = new Worker(new URL('./load-worker.js', import.meta.url), { type: 'module' });
  return {
    on(event: 'message' | 'error' | 'exit', listener: (value: never) => void) {
      if (event === 'message') worker.addEventListener('message', (e) => (listener as (m: unknown) => void)(e.data));
      else if (event === 'error') {
        worker.addEventListener('error', (e) => {
          e.preventDefault();
          (listener as (e: Error) => void)(new Error(`load worker failed: ${e.message || 'it could not start'}`));
        });
        worker.addEventListener('messageerror', () =>
          (listener as (e: Error) => void)(new Error('load worker: a message could not be read')),
        );
      }
    },
    postMessage: (message, transfer) => worker.postMessage(message, transfer ?? []),
    // A page does not wait for its workers: nothing to hold open.
    ref: () => undefined,
    unref: () => undefined,
    terminate: () => worker.terminate(),
  } as WorkerThread;
}

/** Gives gpu.js to the gpu backend: set by `waypoint/gpu` (src/browser/gpu.ts), which imports its browser build. */
import { pageLifecycle } from './page-lifecycle.js';

let importGpuJs: (() => Promise<unknown>) | undefined;

export function registerGpuJs(load: () => Promise<unknown>): void {
  importGpuJs = load;
}

export const browserPlatform: Platform = {
  name: 'browser',
  readBytes: fetchBytes,
  env: () => undefined,
  cores: () => globalThis.navigator?.hardwareConcurrency ?? 1,
  allocUninitialized: (length) => new Uint8Array(length),
  identity: () => ({ host: 'browser', pid: pageId, bootId: null, startTime: null }),
  processState: () => ({ kind: 'unknown' }),
  onExit: () => undefined,
  ...(globalThis.navigator?.locks ? { exclusiveLock } : {}),
  ...(typeof Worker === 'function' ? { startLoadWorker } : {}),
  ...(typeof document === 'object' ? { page: pageLifecycle } : {}),
  get importGpuJs() {
    return importGpuJs;
  },
};
