/**
 * A checkpoint's SHA-256 (the manifest's optional `sha256`): taken from the bytes as a save
 * writes them, and checked against the file before a resume or a load trusts it. CRC-32s
 * catch corruption; a digest recorded apart from the file also catches a substituted one.
 */
import { type Storage, type WriteHandle, readFileIfExists } from '../storage/storage.js';
import { basename, dirname, join } from '../paths.js';
import { parseManifest } from './manifest.js';
import { CheckpointError } from '../state/errors.js';
import { osError } from '../storage/os-errors.js';
import { type Hasher, sha256 } from './sha256.js';

/** `storage`, with the bytes of every file it creates fed to `hasher` as they are written (a save writes one). */
export function hashingWrites(storage: Storage, hasher: Hasher): Storage {
  return new Proxy(storage, {
    get(target, prop) {
      if (prop === 'createExclusive')
        return async (path: string): Promise<WriteHandle> => {
          const handle = await target.createExclusive(path);
          return {
            write: (buffers) => {
              for (const b of buffers) hasher.update(b);
              return handle.write(buffers);
            },
            sync: () => handle.sync(),
            close: () => handle.close(),
          };
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const CHUNK = 4 * 1024 * 1024;

/** The SHA-256 of a file's bytes, read in chunks. */
export async function fileSha256(storage: Storage, path: string): Promise<string> {
  let handle;
  try {
    handle = await storage.openRead(path);
  } catch (cause) {
    throw osError('cannot open the file', path, cause);
  }
  try {
    const hasher = sha256();
    const buffer = new Uint8Array(Math.min(CHUNK, Math.max(handle.size, 1)));
    for (let at = 0; at < handle.size; at += CHUNK) {
      const got = await handle.read(at, Math.min(CHUNK, handle.size - at), buffer);
      hasher.update(got.subarray(0, Math.min(CHUNK, handle.size - at)));
    }
    return hasher.hex();
  } finally {
    await handle.close();
  }
}

/** Refuses a file whose bytes are not the ones recorded: a typed error naming both digests. */
export async function checkSha256(storage: Storage, path: string, recorded: string): Promise<void> {
  const actual = await fileSha256(storage, path);
  if (actual !== recorded)
    throw new CheckpointError(
      'HASH_MISMATCH',
      `SHA-256 ${actual}, the manifest recorded ${recorded}: the file is not the one saved`,
      { file: path },
    );
}

/**
 * Before a load trusts a file of a managed directory: where a manifest beside it (the
 * manager's, or a ModelCheckpoint template's hidden one) recorded the file's SHA-256, the
 * file's bytes must have it. Files no manifest hashed are read as before.
 */
export async function checkRecordedSha256(storage: Storage, path: string): Promise<void> {
  const dir = dirname(path);
  const file = basename(path);
  let names: string[];
  try {
    names = (await storage.list(dir)).filter((n) => n.endsWith('manifest.json'));
  } catch {
    return; // no directory listing: nothing recorded to check against
  }
  for (const name of names) {
    const bytes = await readFileIfExists(storage, join(dir, name));
    if (bytes === null) continue;
    let recorded: string | undefined;
    try {
      recorded = parseManifest(bytes).manifest.checkpoints.find((e) => e.file === file)?.sha256;
    } catch {
      continue; // not a manifest: nothing recorded there
    }
    if (recorded !== undefined) return checkSha256(storage, path, recorded);
  }
}
