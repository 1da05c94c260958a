/**
 * `waypoint/testing`: the suites an implementation proves itself with, for vitest (a peer of
 * this entry only). A Storage of your own, in three lines:
 *
 *   import { storageContract } from 'waypoint/testing';
 *   storageContract('MyStorage', async () => ({ storage: new MyStorage(), dir: 'run' }));
 */
import { describe, it } from 'vitest';
import type { Storage } from '../storage/storage.js';
import { READ_ONLY_RULES, STORAGE_RULES } from './storage-contract.js';

export {
  STORAGE_RULES,
  READ_ONLY_RULES,
  checkStorage,
  type StorageRule,
  type ReadOnlyRule,
} from './storage-contract.js';

/** Declares one test per rule of the Storage contract; `make` gives each a storage and a fresh directory (made with mkdirp first). */
export function storageContract(
  name: string,
  make: () => Promise<{ storage: Storage; dir: string }> | { storage: Storage; dir: string },
): void {
  describe(`the Storage contract: ${name}`, () => {
    for (const rule of STORAGE_RULES) {
      it(rule.name, async () => {
        const { storage, dir } = await make();
        await storage.mkdirp(dir);
        await rule.check(storage, dir);
      });
    }
  });
}

/** Declares one test per rule a read-only Storage keeps; `make` gives a storage and how to publish a file it reads. */
export function readOnlyStorageContract(
  name: string,
  make: () =>
    | Promise<{ storage: Storage; publish: (path: string, bytes: Uint8Array) => Promise<void> }>
    | { storage: Storage; publish: (path: string, bytes: Uint8Array) => Promise<void> },
): void {
  describe(`the read-only Storage contract: ${name}`, () => {
    for (const rule of READ_ONLY_RULES) {
      it(rule.name, async () => {
        const { storage, publish } = await make();
        await rule.check(storage, publish);
      });
    }
  });
}
