/**
 * The buffers kernels and ops compute into, recycled across training steps.
 *
 * A fresh Float32Array costs more than filling it: zeroed memory, a page fault per 4 KiB on
 * first touch and, later, a collection (0.5–0.9 ns a value against 0.1 for writing into a
 * reused one, here). A training step allocates the same sizes every time, so fit runs each
 * step in a buffer scope: every buffer `allocate` hands out inside it returns to a pool when
 * the step ends, and the next step takes them again. Outside a scope, `allocate` is
 * `new Float32Array`.
 *
 * A tensor that must outlive its step (a layer keeping an activation for the next batch)
 * is kept with `keep`, as in TensorFlow.js's tidy. The pool holds at most what one step
 * released: sizes the step after does not take again are dropped.
 */
type Buffer = Float32Array | Int32Array;

interface Scope {
  handedOut: Buffer[];
  kept: Set<Buffer>;
}

let scope: Scope | null = null;
let pooling = true;
/** The buffers the last scope released, by kind and length (key: 2·length, +1 for Int32Array). */
let free = new Map<number, Buffer[]>();
const stats = { fresh: 0, reused: 0, freshBytes: 0 };
const keyOf = (b: Buffer) => 2 * b.length + (b instanceof Int32Array ? 1 : 0);

function take<T extends Buffer>(n: number, int: boolean, make: (n: number) => T): T {
  if (scope === null) return make(n);
  const reuse = free.get(2 * n + (int ? 1 : 0))?.pop() as T | undefined;
  const buffer = reuse ?? make(n);
  if (reuse === undefined) {
    stats.fresh++;
    stats.freshBytes += 4 * n;
  } else {
    stats.reused++;
  }
  scope.handedOut.push(buffer);
  return buffer;
}

/** A buffer of `n` floats whose contents are unspecified: the caller writes every one. */
export function allocate(n: number): Float32Array {
  return take(n, false, (k) => new Float32Array(k));
}

/** `allocate` for int32 (pooling's argmax), contents unspecified. */
export function allocateInt32(n: number): Int32Array {
  return take(n, true, (k) => new Int32Array(k));
}

/** `n` values of `heap` from `at`, into a buffer of their own or `into` (a kernel's result leaving WebAssembly memory). */
export function copyOut(heap: Float32Array, at: number, n: number, into: Float32Array = allocate(n)): Float32Array {
  into.set(heap.subarray(at, at + n));
  return into;
}

/** A buffer of `n` zeros. */
export function allocateZeroed(n: number): Float32Array {
  const buffer = allocate(n);
  return scope === null ? buffer : buffer.fill(0);
}

/** Exempts `buffer` from its scope's release: it stays the caller's. */
export function keepBuffer(buffer: Buffer): void {
  scope?.kept.add(buffer);
}

/**
 * Runs `fn` (synchronous) in a buffer scope: every buffer allocated inside and not kept is
 * recycled when it returns, so nothing computed inside may be used after, but what `fn`
 * returns as plain numbers. Scopes do not nest: an inner one joins the outer.
 */
export function withBufferScope<T>(fn: () => T): T {
  if (scope !== null || !pooling) return fn();
  const current: Scope = { handedOut: [], kept: new Set() };
  scope = current;
  try {
    return fn();
  } finally {
    scope = null;
    const next = new Map<number, Buffer[]>();
    for (const buffer of current.handedOut) {
      if (current.kept.has(buffer)) continue;
      let list = next.get(keyOf(buffer));
      if (list === undefined) next.set(keyOf(buffer), (list = []));
      list.push(buffer);
    }
    free = next;
  }
}

/** Turns recycling off (every allocation fresh) or back on; the pool empties. For tests and benchmarks. */
export function setBufferPooling(on: boolean): void {
  pooling = on;
  free = new Map();
}

/** Buffers allocated fresh and taken from the pool since the process started. */
export function bufferStats(): { fresh: number; reused: number; freshBytes: number } {
  return { ...stats };
}
