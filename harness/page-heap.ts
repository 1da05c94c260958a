/**
 * The JavaScript memory of a page while it works, read through the DevTools protocol: V8's
 * heap in use plus the backing stores of ArrayBuffers (`Runtime.getHeapUsage`), which is
 * where tensors and file chunks live. Sampled every few milliseconds around an action.
 */
import type { Page } from 'playwright-core';

export interface HeapPeak<T> {
  result: T;
  /** Bytes in use after a garbage collection, before the action. */
  baseline: number;
  /** The most bytes in use seen while the action ran. */
  peak: number;
}

/** Runs `action` in `page`, sampling its heap every `everyMs` from a collected baseline. */
export async function measurePageHeap<T>(page: Page, action: () => Promise<T>, everyMs = 10): Promise<HeapPeak<T>> {
  const cdp = await page.context().newCDPSession(page);
  const usage = async () => {
    const u = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number; backingStorageSize?: number };
    return u.usedSize + (u.backingStorageSize ?? 0);
  };
  try {
    await cdp.send('HeapProfiler.collectGarbage');
    const baseline = await usage();
    let peak = baseline;
    let running = true;
    const sampling = (async () => {
      while (running) {
        peak = Math.max(peak, await usage().catch(() => peak));
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
    let result: T;
    try {
      result = await action();
    } finally {
      running = false;
      await sampling;
    }
    return { result, baseline, peak };
  } finally {
    await cdp.detach().catch(() => undefined);
  }
}
