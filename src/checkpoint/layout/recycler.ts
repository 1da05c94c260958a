/**
 * Scratch buffers for saves and loads (shuffled planes, encoded planes, snapshots, payloads
 * read for verification), handed back once done with and reused by the next entries, saves
 * and loads. Fresh memory is the expensive kind on a virtual machine: each new page faults
 * on first write, which for the shuffled copy of a 4 MB tensor costs twice the shuffle
 * itself (bench/checkpoint-io.ts).
 */
import { platform } from '../../platform.js';

/**
 * Buffers kept for reuse, in bytes at most: a background save's snapshot of a model of up
 * to about 100 MB plus the entries in flight. Only what was used is kept.
 */
const KEEP_BYTES = 128 << 20;

const free: Uint8Array[] = [];
let freeBytes = 0;
let keepBytes = KEEP_BYTES;

/**
 * Lets the recycler keep `bytes` more while one save or load of large entries runs: each
 * entry then reuses the scratch the one before it handed back, where scratch over the
 * usual limit would be left to the garbage collector, which frees it late (a 4 GB save in
 * 238 MiB entries peaked at 771 MiB beyond the model). Returns the function that ends it,
 * dropping what is kept beyond the limit again.
 */
export function keepMoreWhile(bytes: number): () => void {
  keepBytes += bytes;
  return () => {
    keepBytes -= bytes;
    while (freeBytes > keepBytes && free.length > 0) freeBytes -= free.pop()!.length;
  };
}

/** `length` bytes of scratch (contents undefined), to hand back with `recycle` when done. */
export function takeScratch(length: number): Uint8Array {
  let best = -1;
  for (let i = 0; i < free.length; i++) {
    if (free[i].length >= length && (best < 0 || free[i].length < free[best].length)) best = i;
  }
  if (best < 0) return platform().allocUninitialized(sizeClass(length)).subarray(0, length);
  const [buffer] = free.splice(best, 1);
  freeBytes -= buffer.length;
  return buffer.subarray(0, length);
}

/**
 * What a request of `length` bytes allocates: above 1 MiB, rounded up to a sixteenth of its
 * power of two (at most 6 % more), so that the next entry's payload, a few bytes longer,
 * reuses this one's buffer instead of leaving it unused in the free list.
 */
function sizeClass(length: number): number {
  if (length <= 1 << 20) return length;
  const step = 2 ** (Math.floor(Math.log2(length)) - 4);
  return Math.ceil(length / step) * step;
}

/** Hands buffers from takeScratch back; nothing may use them afterwards. */
export function recycle(buffers: Uint8Array[]): void {
  for (const b of buffers) {
    const whole = new Uint8Array(b.buffer, 0, b.buffer.byteLength);
    if (freeBytes + whole.length > keepBytes) continue;
    free.push(whole);
    freeBytes += whole.length;
  }
}
