/**
 * A turn of the event loop. Long synchronous work (a fit's batches, a custom training loop
 * awaiting only resolved promises) starves I/O callbacks, signal handlers and timers; awaiting
 * this lets them run. Free of Node: feature-detected, so any folder may import it.
 */

/** Resolves on a later turn of the event loop, after pending I/O and signal callbacks. */
export function yieldToEventLoop(): Promise<void> {
  // setImmediate (Node) runs after the poll phase, where signals and I/O are delivered;
  // a MessageChannel message (browsers) is a task that is not clamped like setTimeout(0).
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
