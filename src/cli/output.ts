/**
 * Where the CLI writes what it makes (exports, imports): never over the file it reads, never
 * over an existing file unless asked, and atomically (a temporary file renamed into place),
 * so an interrupted export leaves nothing half-written.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fsStorage } from '../node/fs-storage.js';
import { writeFileAtomic } from '../storage/storage.js';
import { tempPathFor } from '../storage/temp-names.js';
import { osError } from '../storage/os-errors.js';
import { UsageError } from './args.js';

/** The real path of `path`, following links, even where its last parts do not exist yet. */
function realPath(path: string): string {
  const full = resolve(path);
  if (existsSync(full)) return realpathSync(full);
  const parent = dirname(full);
  return parent === full ? full : resolve(realPath(parent), full.slice(parent.length + 1));
}

/** Refuses outputs that are the input (by any name) or exist already (unless `overwrite`). */
export function checkOutputs(command: string, input: string, outputs: string[], overwrite: boolean): void {
  const source = realPath(input);
  for (const out of outputs) {
    if (realPath(out) === source)
      throw new UsageError(`${command}: the output ${out} is the input file ${input}: give another --out`);
    if (!overwrite && existsSync(out))
      throw new UsageError(`${command}: ${out} exists; give another --out, or --overwrite to replace it`);
  }
}

/** Writes `bytes` to `path` crash-safely (temporary file, fsync, rename, directory fsync), creating its directory. */
export async function writeOutput(path: string, bytes: Uint8Array | string): Promise<void> {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  try {
    await fsStorage.mkdirp(dirname(path));
    await writeFileAtomic(fsStorage, path, data, tempPathFor(path));
  } catch (cause) {
    throw osError(`cannot write ${path}`, path, cause);
  }
}
