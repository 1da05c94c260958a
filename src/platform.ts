/**
 * Everything that differs between Node and a browser, behind one small interface. Each
 * package entry (src/node, src/browser, chosen by package.json's conditional exports)
 * installs its implementation before any other module of the package runs; the portable
 * default below knows no process, no file system and no threads, so the core runs anywhere.
 * Nothing outside src/node may import a `node:` module or name `process`.
 */

/** Who a process is, in a way that survives pid reuse (src/node/process-identity.ts). */
export interface ProcessIdentity {
  host: string;
  pid: number;
  /** The kernel's boot id, or null where it cannot be read. */
  bootId: string | null;
  /** Start time in clock ticks since boot (Linux), or null. */
  startTime: string | null;
}

/** What is known of a process on this host, looked up by pid. */
export type ProcessState =
  | { kind: 'missing' }
  | { kind: 'zombie' }
  | { kind: 'running'; startTime: string | null }
  /** The platform cannot tell (no /proc and no signals). */
  | { kind: 'unknown' };

type ZlibCallback = (error: Error | null, result: Uint8Array) => void;

/** The part of Node's zlib the codecs use when it is there (faster than fflate). */
export interface NativeZlib {
  constants: Record<'Z_DEFAULT_STRATEGY' | 'Z_HUFFMAN_ONLY' | 'Z_RLE' | 'Z_FINISH' | 'Z_SYNC_FLUSH', number>;
  deflateRawSync(bytes: Uint8Array, options: object): Uint8Array;
  deflateRaw(bytes: Uint8Array, options: object, callback: ZlibCallback): void;
  inflateRaw(bytes: Uint8Array, options: object, callback: ZlibCallback): void;
  /** With `info: true`, the result and the engine that made it. */
  inflateRawSync(bytes: Uint8Array, options: object): unknown;
  crc32?(bytes: Uint8Array, value?: number): number;
  /** A streaming inflater: output in chunks of `chunkSize` bytes ('data'), then 'end', or 'error'. */
  createInflateRaw?(options: object): {
    on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
    on(event: 'end', listener: () => void): unknown;
    on(event: 'error', listener: (error: Error) => void): unknown;
    write(chunk: Uint8Array): boolean;
    end(): void;
    destroy(): void;
  };
}

/** A worker thread (checkpoint loads, large matmuls), as Node's worker_threads gives one. */
export interface WorkerThread {
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
  ref(): void;
  unref(): void;
  terminate(): unknown;
}

/** Where text output goes (the progress bar's default). */
export interface TextSink {
  write(text: string): void;
  /** Whether it is a terminal, which can redraw a line in place. */
  readonly isTTY: boolean;
  readonly columns?: number;
}

/** Termination signals, where the platform has them (Node). */
export interface Signals {
  on(signal: string, handler: (signal: string) => void): void;
  off(signal: string, handler: (signal: string) => void): void;
  exit(code: number): never;
  /** A line for the user (stderr). */
  tell(message: string): void;
}

/** A lock held across tabs (the Web Locks API): released when the page goes away. */
export interface HeldExclusiveLock {
  release(): void;
}

export interface Platform {
  readonly name: 'node' | 'browser' | 'portable';
  /** The bytes at `url` (a data file of the package: file URLs in Node, fetched in a page). */
  readBytes(url: string | URL): Promise<Uint8Array>;
  /** A setting from the environment (WAYPOINT_BACKEND), where there is one. */
  env(name: string): string | undefined;
  /** Cores this program may use. */
  cores(): number;
  /** `length` bytes the caller will overwrite entirely (uninitialized where the platform allows it). */
  allocUninitialized(length: number): Uint8Array;
  readonly zlib?: NativeZlib;
  identity(): ProcessIdentity;
  processState(pid: number): ProcessState;
  /** Runs `handler` when the program exits (removing lock files it holds); returns nothing to undo. */
  onExit(handler: () => void): void;
  readonly signals?: Signals;
  readonly stdout?: TextSink;
  /** A lock no other tab or worker can hold at the same time, or null when another holds it. */
  exclusiveLock?(name: string): Promise<HeldExclusiveLock | null>;
  /** Starts a checkpoint load thread (Node's worker_threads, a page's Web Workers), where the platform has them. */
  startLoadWorker?(): WorkerThread;
  /**
   * Starts a compute thread for large matmuls (src/backend/threads.ts), where this thread may
   * also block on Atomics.wait until it is done (Node; not a page's main thread).
   */
  startComputeWorker?(): WorkerThread;
  /** gpu.js at once, where it can be loaded synchronously (Node); undefined where it must be imported. */
  requireGpuJs?(): unknown;
  /** gpu.js through a dynamic import(), where the platform has a way to (see src/browser/gpu.ts). */
  importGpuJs?(): Promise<unknown>;
  /** A native incremental SHA-256 (Node's crypto), where the platform has one. */
  sha256?(): { update(bytes: Uint8Array): void; hex(): string };
  /** The page's lifecycle, where there is a page (a document that can be hidden or closed). */
  readonly page?: PageLifecycle;
}

/** A page's visibility: what BackupAndRestore's saveOnHidden and pauseWhenHidden listen to. */
export interface PageLifecycle {
  /** Calls `handler` when the page is hidden (`visibilitychange`) or being unloaded (`pagehide`); returns the unsubscribe. */
  onHidden(handler: (why: 'hidden' | 'pagehide') => void): () => void;
  hidden(): boolean;
  /** Resolves when the page is visible again (at once if it is). */
  whenVisible(): Promise<void>;
}

let anonymousPid = 0;

/** Fetches `url` (the platforms without a file system). */
export async function fetchBytes(url: string | URL): Promise<Uint8Array> {
  if (typeof fetch !== 'function') throw new Error('this platform has no fetch');
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** No process, no file system, no threads: what any JavaScript engine has. */
export const portablePlatform: Platform = {
  name: 'portable',
  readBytes: fetchBytes,
  env: () => undefined,
  cores: () => 1,
  allocUninitialized: (length) => new Uint8Array(length),
  identity: () => ({
    host: 'portable',
    pid: (anonymousPid ||= 1 + Math.floor(Math.random() * 2 ** 31)),
    bootId: null,
    startTime: null,
  }),
  processState: () => ({ kind: 'unknown' }),
  onExit: () => undefined,
};

let current: Platform = portablePlatform;

/** The platform the package entry installed. */
export const platform = (): Platform => current;

/** Installs a platform's implementation (the package entries do; tests may). Returns the one it replaced. */
export function installPlatform(next: Platform): Platform {
  const before = current;
  current = next;
  return before;
}
