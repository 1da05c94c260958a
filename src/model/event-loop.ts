/**
 * Letting the event loop run during a long computation. A fit is one long chain of
 * synchronous batches; without a turn of the event loop now and then, a signal handler
 * (Ctrl-C, SIGTERM from `docker stop`), a timer (the lock's heartbeat) or a browser page's
 * input waits until the fit's next real I/O.
 */

/** Resolves on a later turn of the event loop, after pending I/O and signal callbacks. */
export function yieldToEventLoop(): Promise<void> {
  // setImmediate (Node) runs after the poll phase, where signals and I/O are delivered;
  // a MessageChannel message (browsers) is a task that is not clamped like setTimeout(0).
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => { channel.port1.close(); resolve(); };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

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
