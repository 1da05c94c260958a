/**
 * Node's built-in modules, loaded only where they exist, so the format code also runs in a
 * browser (which gets fflate and the portable CRC instead).
 */
interface ProcessWithBuiltins {
  getBuiltinModule?: (id: string) => unknown;
}

/** A built-in module of Node, or undefined outside Node. */
export function builtin<T>(id: string): T | undefined {
  return (globalThis as { process?: ProcessWithBuiltins }).process?.getBuiltinModule?.(id) as T | undefined;
}

export const nodeZlib = () => builtin<typeof import('node:zlib')>('node:zlib');

export const nodeWorkerThreads = () => builtin<typeof import('node:worker_threads')>('node:worker_threads');

/** Cores this process may use (Node's os.availableParallelism), or undefined outside Node. */
export const nodeCores = (): number | undefined => builtin<typeof import('node:os')>('node:os')?.availableParallelism();

type BufferClass = { allocUnsafeSlow(size: number): Uint8Array };

/**
 * `length` bytes that the caller will overwrite entirely. In Node they come uninitialized
 * from the allocator, which recycles memory the process already touched: zero-filled
 * megabytes come from fresh pages, and on a virtual machine the page faults cost several
 * times the copy that fills them.
 */
export function allocUninitialized(length: number): Uint8Array {
  const B = (globalThis as { Buffer?: BufferClass }).Buffer;
  return B ? new Uint8Array(B.allocUnsafeSlow(length).buffer, 0, length) : new Uint8Array(length);
}
