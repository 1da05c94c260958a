/**
 * Inflates the deflated byte planes of a load with two workers: zlib on the thread pool and
 * this package's decoder on the calling thread. Whichever is free takes the next plane
 * (work stealing), so the split follows how busy each one really is. The calling thread
 * also checksums and interleaves every entry, and the pool also reads the file; which of
 * them has time to spare changes from machine to machine and minute to minute. The calling
 * thread decodes in `setImmediate` turns, one plane per turn, after the event loop has
 * handled the reads that landed, so the checksums that unblock later entries come first.
 */
import { poolLanes, havePool, inflateHere, inflateRaw } from './deflate.js';
import type { EntryHeader } from '../layout/format.js';
import { takeScratch } from '../layout/recycler.js';

/** Below this many stored bytes of planes, handing planes to the pool costs more in thread round trips than it saves. */
const POOL_MIN_BYTES = 2 << 20;

export interface InflatedPlane {
  bytes: Uint8Array;
  /** Decoded here into scratch memory: hand it to `recycle` once interleaved. */
  scratch: boolean;
}

interface Job {
  stored: Uint8Array;
  length: number;
  resolve(plane: InflatedPlane): void;
  reject(cause: unknown): void;
}

export class PlaneInflater {
  private readonly queue: Job[] = [];
  private readonly usePool: boolean;
  private onPool = 0;
  private turnScheduled = false;

  /** For a load of `entries`, sized by the stored bytes of their deflated planes. */
  constructor(entries: EntryHeader[], pool = true) {
    this.usePool = pool && havePool() && entries.reduce((n, e) => n + deflatedPlaneBytes(e), 0) >= POOL_MIN_BYTES;
  }

  /** Inflates a plane; the caller checks that it came out `length` bytes long. */
  inflate(stored: Uint8Array, length: number): Promise<InflatedPlane> {
    if (!this.usePool) return Promise.resolve().then(() => decodeHere(stored, length));
    return new Promise((resolve, reject) => {
      this.queue.push({ stored, length, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.onPool < poolLanes() && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.onPool++;
      inflateRaw(job.stored, job.length)
        .then((bytes) => job.resolve({ bytes, scratch: false }), job.reject)
        .finally(() => {
          this.onPool--;
          this.dispatch();
        });
    }
    if (this.queue.length > 0 && !this.turnScheduled) {
      this.turnScheduled = true;
      setImmediate(() => this.turn());
    }
  }

  /** One plane decoded on this thread. */
  private turn(): void {
    this.turnScheduled = false;
    const job = this.queue.shift();
    if (job) {
      try {
        job.resolve(decodeHere(job.stored, job.length));
      } catch (cause) {
        job.reject(cause);
      }
    }
    this.dispatch();
  }
}

function deflatedPlaneBytes(e: EntryHeader): number {
  return e.codec !== 'shuffle-deflate' || !e.planes
    ? 0
    : e.planes.reduce((n, m, k) => n + (m === 'deflate' ? (e.planeLengths as number[])[k] : 0), 0);
}

function decodeHere(stored: Uint8Array, length: number): InflatedPlane {
  const out = takeScratch(length);
  return { bytes: out.subarray(0, inflateHere(stored, out)), scratch: true };
}
