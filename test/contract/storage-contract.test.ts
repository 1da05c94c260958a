/**
 * The Storage contract (src/testing/storage-contract.ts) over every Storage in Node; the
 * browser's IndexedDB and OPFS storages run the same rules in Chromium (test/browser/browser.test.ts).
 * Each implementation proves itself as a user's would: three lines of `storageContract`.
 */
import { afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage, fsStorage } from '../../src/node/index.js';
import { storageContract } from '../../src/testing/index.js';
import { FaultyStorage } from '../helpers/faulty-storage.js';

const root = mkdtempSync(join(tmpdir(), 'wpt-contract-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `d${n++}`);

storageContract('fsStorage', async () => {
  const dir = freshDir();
  await fsStorage.mkdirp(dir);
  return { storage: fsStorage, dir };
});

storageContract('MemoryStorage', async () => {
  const storage = new MemoryStorage();
  await storage.mkdirp('/run');
  return { storage, dir: '/run' };
});

storageContract('FaultyStorage (no fault planned) over fsStorage', async () => {
  const dir = freshDir();
  await fsStorage.mkdirp(dir);
  return { storage: new FaultyStorage(fsStorage, { failAt: null }), dir };
});
