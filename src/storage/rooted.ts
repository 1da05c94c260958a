/**
 * A Storage whose paths are taken relative to `root` of another: a TieredStorage's local tier
 * in its own directory (`rootedAt(fsStorage, '/var/cache/run')`) while the remote tier sees
 * the same relative paths as keys.
 */
import { join } from '../paths.js';
import type { Storage } from './storage.js';

export function rootedAt(storage: Storage, root: string): Storage {
  const at = (path: string) => join(root, path);
  const rooted: Storage = {
    createExclusive: (p) => storage.createExclusive(at(p)),
    openRead: (p) => storage.openRead(at(p)),
    rename: (from, to) => storage.rename(at(from), at(to)),
    syncDir: (d) => storage.syncDir(at(d)),
    remove: (p) => storage.remove(at(p)),
    list: (d) => storage.list(at(d)),
    mkdirp: (d) => storage.mkdirp(at(d)),
  };
  if (storage.removeEmptyDir) rooted.removeEmptyDir = (d) => storage.removeEmptyDir!(at(d));
  if (storage.freeBytes) rooted.freeBytes = (d) => storage.freeBytes!(at(d));
  if (storage.link) rooted.link = (from, to) => storage.link!(at(from), at(to));
  return rooted;
}
