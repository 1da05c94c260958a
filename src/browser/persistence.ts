/**
 * A page's storage under pressure: browsers evict an origin's IndexedDB and OPFS when the disk
 * fills, unless the origin asked to persist (navigator.storage.persist) and was granted it.
 */

/**
 * Asks the browser to keep this origin's storage (checkpoints included) instead of evicting it
 * under storage pressure; resolves with whether it is persistent now. Chromium grants it to
 * installed or bookmarked sites and to sites with notification permission; Firefox asks the user.
 */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = globalThis.navigator?.storage;
  if (!storage?.persist) return false;
  if (await storage.persisted?.()) return true;
  return storage.persist();
}

/** The origin's bytes used and its quota (navigator.storage.estimate), where the browser tells. */
export async function storageEstimate(): Promise<{ usage: number; quota: number } | null> {
  const estimate = await globalThis.navigator?.storage?.estimate?.();
  if (estimate?.quota === undefined) return null;
  return { usage: estimate.usage ?? 0, quota: estimate.quota };
}
