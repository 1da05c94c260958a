/**
 * Letting the event loop run during a long computation. A fit is one long chain of
 * synchronous batches; without a turn of the event loop now and then, a signal handler
 * (Ctrl-C, SIGTERM from `docker stop`), a timer (the lock's heartbeat) or a browser page's
 * input waits until the fit's next real I/O.
 */
import { yieldToEventLoop } from '../event-loop.js';

export { yieldToEventLoop };

/** The longest stretch of work between two turns of the event loop, in milliseconds. */
export const YIELD_EVERY_MS = 50;

/** Yields when at least `everyMs` of work has passed since the last yield. */
export class Yielder {
  private last = performance.now();
  /** Turns given to the event loop so far (bench/interrupt.ts counts them). */
  yields = 0;

  constructor(private readonly everyMs = YIELD_EVERY_MS) {}

  async maybeYield(): Promise<void> {
    if (performance.now() - this.last < this.everyMs) return;
    await yieldToEventLoop();
    this.yields++;
    this.last = performance.now();
  }
}
