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

/** `length` bytes of scratch (contents undefined), to hand back with `recycle` when done. */
export function takeScratch(length: number): Uint8Array {
  let best = -1;
  for (let i = 0; i < free.length; i++) {
    if (free[i].length >= length && (best < 0 || free[i].length < free[best].length)) best = i;
  }
  if (best < 0) return platform().allocUninitialized(length);
  const [buffer] = free.splice(best, 1);
  freeBytes -= buffer.length;
  return buffer.subarray(0, length);
}

/** Hands buffers from takeScratch back; nothing may use them afterwards. */
export function recycle(buffers: Uint8Array[]): void {
  for (const b of buffers) {
    const whole = new Uint8Array(b.buffer, 0, b.buffer.byteLength);
    if (freeBytes + whole.length > KEEP_BYTES) continue;
    free.push(whole);
    freeBytes += whole.length;
  }
}
