/** Every event file under a log directory, zipped with its run path, for a download (a browser's logs live in its Storage). */
import { zipSync } from 'fflate';
import { join } from '../paths.js';
import { type Storage, readFileIfExists } from '../storage/storage.js';
import { readLogs } from './reader.js';
import { osError } from '../storage/os-errors.js';
import { ArgumentError } from '../errors.js';

export async function bundleLogs(storage: Storage, logDir: string): Promise<Uint8Array> {
  const entries: Record<string, Uint8Array> = {};
  for (const run of await readLogs(storage, logDir)) {
    for (const file of run.files) {
      const bytes = await readFileIfExists(storage, join(logDir, run.run, file));
      if (bytes) entries[join(run.run, file)] = bytes;
    }
  }
  if (Object.keys(entries).length === 0) {
    const missing = await storage.list(logDir).then(
      () => null,
      (e: unknown) => e,
    );
    if (missing !== null) throw osError('cannot read the log directory', logDir, missing);
    throw new ArgumentError(`no TensorBoard event files under ${logDir}: nothing to export`);
  }
  return zipSync(entries, { level: 6 });
}
