/**
 * Runs moving between storages: a run is a directory of checkpoints, manifests and logs
 * (what `waypoint train` or BackupAndRestore + CSVLogger + TensorBoard leave). `exportRun`
 * writes one as one file, a tar archive (docs/FORMAT.md §12) whose last member,
 * `waypoint-run.json`, lists every file with its size and SHA-256; `importRun` verifies all of
 * it before writing a byte; `copyRun` copies between any two storages (IndexedDB, OPFS,
 * memory, the file system, S3), checking every file's digest on both sides; `listRuns` finds
 * the runs in a storage. Locks and temporary files are never carried: copy a run no process
 * is writing.
 */
import { dirname, join, staysInside } from '../paths.js';
import { sha256 } from '../checkpoint/sha256.js';
import { CheckpointError } from '../state/errors.js';
import { type ReadHandle, type Storage, type WriteHandle } from '../storage/storage.js';
import { TEMP_SUFFIX, tempPathFor } from '../storage/temp-names.js';
import { osError } from '../storage/os-errors.js';
import { BLOCK, type TarEntry, fileHeader, padding, parseHeader } from './tar.js';

/** The archive's last member: what it holds. */
export const INDEX_NAME = 'waypoint-run.json';

export interface RunIndex {
  format: 'waypoint-run';
  version: 1;
  created: string;
  files: Array<{ path: string; size: number; sha256: string }>;
}

export interface RunInfo {
  /** The run's directory in the storage. */
  dir: string;
  /** Its files (checkpoints, manifests, logs), relative to `dir`. */
  files: string[];
  bytes: number;
}

const PIECE = 1 << 20;
const skipped = (name: string) => name.endsWith('.lock') || name.endsWith(TEMP_SUFFIX);

/** Every file under `dir`, relative to it (locks and temporary files left out), with its size. */
async function filesOf(storage: Storage, dir: string, under = ''): Promise<Array<{ path: string; size: number }>> {
  const out: Array<{ path: string; size: number }> = [];
  for (const name of (await storage.list(join(dir, under))).sort()) {
    if (skipped(name)) continue;
    const path = under ? join(under, name) : name;
    const inner = await storage.list(join(dir, path)).then(
      () => true,
      () => false,
    );
    if (inner) out.push(...(await filesOf(storage, dir, path)));
    else {
      const handle = await storage.openRead(join(dir, path));
      out.push({ path, size: handle.size });
      await handle.close();
    }
  }
  return out;
}

/** Reads `size` bytes of `handle` from `at` in pieces, handing each to `take`. */
async function pieces(handle: ReadHandle, at: number, size: number, what: string, take: (b: Uint8Array) => Promise<void> | void) {
  for (let done = 0; done < size; ) {
    const piece = await handle.read(at + done, Math.min(PIECE, size - done));
    if (piece.length === 0)
      throw new CheckpointError('TRUNCATED', `${what} ends ${size - done} bytes early`, { offset: at + done });
    await take(piece);
    done += piece.length;
  }
}

/**
 * Writes the run in `dir` of `storage` as one archive: to `target` (a file in a storage,
 * written piece by piece), or, without one, returned as bytes. Returns its index.
 */
export async function exportRun(storage: Storage, dir: string): Promise<Uint8Array<ArrayBuffer>>;
export async function exportRun(storage: Storage, dir: string, target: { storage: Storage; path: string }): Promise<RunIndex>;
export async function exportRun(
  storage: Storage,
  dir: string,
  target?: { storage: Storage; path: string },
): Promise<Uint8Array<ArrayBuffer> | RunIndex> {
  const files = await filesOf(storage, dir).catch((cause) => {
    throw osError('cannot list the run', dir, cause);
  });
  if (files.length === 0) throw new CheckpointError('NOT_FOUND', `${dir} holds no files: there is no run to export`, { file: dir });
  const chunks: Uint8Array[] = [];
  const tmp = target ? tempPathFor(target.path) : '';
  let out: WriteHandle | null = null;
  if (target) {
    await target.storage.mkdirp(dirname(target.path));
    out = await target.storage.createExclusive(tmp);
  }
  const emit = async (b: Uint8Array) => (out ? out.write([b]) : void chunks.push(b.slice()));
  const now = Date.now() / 1000;
  const index: RunIndex = { format: 'waypoint-run', version: 1, created: new Date().toISOString(), files: [] };
  try {
    for (const file of files) {
      const handle = await storage.openRead(join(dir, file.path));
      try {
        const hasher = sha256();
        await emit(fileHeader(file.path, handle.size, now));
        await pieces(handle, 0, handle.size, join(dir, file.path), async (piece) => {
          hasher.update(piece);
          await emit(piece);
        });
        await emit(padding(handle.size));
        index.files.push({ path: file.path, size: handle.size, sha256: hasher.hex() });
      } finally {
        await handle.close();
      }
    }
    const json = new TextEncoder().encode(`${JSON.stringify(index, null, 1)}\n`);
    await emit(fileHeader(INDEX_NAME, json.length, now));
    await emit(json);
    await emit(padding(json.length));
    await emit(new Uint8Array(2 * BLOCK));
    if (!out || !target) {
      const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      chunks.reduce((at, c) => (bytes.set(c, at), at + c.length), 0);
      return bytes;
    }
    await out.sync();
    await out.close();
    out = null;
    await target.storage.rename(tmp, target.path);
    await target.storage.syncDir(dirname(target.path));
    return index;
  } catch (e) {
    if (out && target) {
      await out.close().catch(() => undefined);
      await target.storage.remove(tmp).catch(() => undefined);
    }
    throw e;
  }
}

/** What an archive can be read from: its bytes, a Blob (a File a user picked), or a file in a storage. */
export type RunSource = Uint8Array | Blob | { storage: Storage; path: string };

async function openSource(source: RunSource): Promise<ReadHandle> {
  if (source instanceof Uint8Array)
    return {
      size: source.length,
      read: async (offset, length) => source.subarray(offset, Math.min(offset + length, source.length)),
      close: async () => undefined,
    };
  if (typeof Blob !== 'undefined' && source instanceof Blob)
    return {
      size: source.size,
      read: async (offset, length) => new Uint8Array(await source.slice(offset, offset + length).arrayBuffer()),
      close: async () => undefined,
    };
  const { storage, path } = source as { storage: Storage; path: string };
  return storage.openRead(path);
}

/** The members of an archive and its verified index: every file listed, every digest right, every path inside. */
async function verifiedMembers(handle: ReadHandle, name: string): Promise<{ entries: TarEntry[]; index: RunIndex }> {
  const entries: TarEntry[] = [];
  for (let at = 0; ; ) {
    if (at + BLOCK > handle.size)
      throw new CheckpointError('TRUNCATED', `${name} ends inside a member's header (it is cut short)`, { file: name, offset: at });
    const entry = parseHeader(await handle.read(at, BLOCK), at);
    if (entry === null) break;
    if (typeof entry === 'string')
      throw new CheckpointError('MALFORMED_HEADER', `${name} is not a run archive: the member at ${at} is refused, ${entry}`, { file: name, offset: at });
    if (entry.dataAt + entry.size > handle.size)
      throw new CheckpointError('TRUNCATED', `${name} is cut short inside '${entry.name}'`, { file: name, offset: handle.size });
    entries.push(entry);
    at = entry.dataAt + entry.size + padding(entry.size).length;
  }
  const last = entries.pop();
  if (last?.name !== INDEX_NAME)
    throw new CheckpointError('MALFORMED_HEADER', `${name} has no ${INDEX_NAME} at its end: it is not a whole run archive`, { file: name });
  let index: RunIndex;
  try {
    index = JSON.parse(new TextDecoder().decode(await handle.read(last.dataAt, last.size))) as RunIndex;
  } catch {
    throw new CheckpointError('MALFORMED_HEADER', `${name}: ${INDEX_NAME} is not JSON`, { file: name, offset: last.dataAt });
  }
  if (index.format !== 'waypoint-run' || !Array.isArray(index.files))
    throw new CheckpointError('MALFORMED_HEADER', `${name}: ${INDEX_NAME} is not a run index`, { file: name, offset: last.dataAt });
  const listed = new Map(index.files.map((f) => [f.path, f]));
  if (listed.size !== entries.length || entries.some((e) => !listed.has(e.name)))
    throw new CheckpointError('MALFORMED_HEADER', `${name}: its members and ${INDEX_NAME} name different files`, { file: name });
  for (const entry of entries) {
    if (!staysInside(entry.name))
      throw new CheckpointError('UNSAFE_PATH', `${name} holds a path outside its run, refused: ${JSON.stringify(entry.name)}`, { file: name, offset: entry.headerAt });
    const expected = listed.get(entry.name)!;
    const hasher = sha256();
    await pieces(handle, entry.dataAt, entry.size, `${name} (${entry.name})`, (p) => hasher.update(p));
    if (entry.size !== expected.size || hasher.hex() !== expected.sha256)
      throw new CheckpointError('CHECKSUM_MISMATCH', `${name}: '${entry.name}' does not match its SHA-256 in ${INDEX_NAME}; nothing was written`, {
        file: name,
        entry: entry.name,
        offset: entry.dataAt,
      });
  }
  return { entries, index };
}

/**
 * Writes the run archived in `source` into `dir` of `storage`, after verifying every member
 * (its digest, its size, its path) — a damaged or cut archive writes nothing. `dir` must not
 * hold files yet. Each file is written under a temporary name and renamed into place.
 */
export async function importRun(source: RunSource, storage: Storage, dir: string): Promise<RunIndex> {
  const name = source instanceof Uint8Array ? 'the archive' : typeof Blob !== 'undefined' && source instanceof Blob ? ((source as File).name ?? 'the archive') : (source as { path: string }).path;
  const handle = await openSource(source);
  try {
    const { entries, index } = await verifiedMembers(handle, name);
    const present = await filesOf(storage, dir).catch(() => []);
    if (present.length)
      throw new CheckpointError(
        'ALREADY_EXISTS',
        `${dir} already holds files (${present.slice(0, 3).map((f) => f.path).join(', ')}${present.length > 3 ? ', …' : ''}): import a run into a new or emptied directory`,
        { file: dir },
      );
    for (const entry of entries) {
      const path = join(dir, entry.name);
      await storage.mkdirp(dirname(path));
      const tmp = tempPathFor(path);
      const out = await storage.createExclusive(tmp);
      try {
        const hasher = sha256();
        await pieces(handle, entry.dataAt, entry.size, name, async (p) => {
          hasher.update(p);
          await out.write([p]);
        });
        // Read twice: a source that changed since it was verified is caught here.
        if (hasher.hex() !== index.files.find((f) => f.path === entry.name)!.sha256)
          throw new CheckpointError('CHECKSUM_MISMATCH', `${name} changed while it was imported ('${entry.name}')`, { file: name, entry: entry.name });
        await out.sync();
        await out.close();
        await storage.rename(tmp, path);
      } catch (e) {
        await out.close().catch(() => undefined);
        await storage.remove(tmp).catch(() => undefined);
        throw e;
      }
    }
    await storage.syncDir(dir);
    return index;
  } finally {
    await handle.close();
  }
}

/** Copies the run in `from` to `to` (another storage, or another directory), each file checked by its digest read back. */
export async function copyRun(from: { storage: Storage; dir: string }, to: { storage: Storage; dir: string }): Promise<RunInfo> {
  const files = await filesOf(from.storage, from.dir);
  const present = await filesOf(to.storage, to.dir).catch(() => []);
  if (present.length)
    throw new CheckpointError('ALREADY_EXISTS', `${to.dir} already holds files: copy a run into a new directory`, { file: to.dir });
  let bytes = 0;
  for (const file of files) {
    const source = await from.storage.openRead(join(from.dir, file.path));
    const path = join(to.dir, file.path);
    const hasher = sha256();
    try {
      await to.storage.mkdirp(dirname(path));
      const tmp = tempPathFor(path);
      const out = await to.storage.createExclusive(tmp);
      await pieces(source, 0, source.size, join(from.dir, file.path), async (p) => {
        hasher.update(p);
        await out.write([p]);
      });
      await out.sync();
      await out.close();
      await to.storage.rename(tmp, path);
      bytes += source.size;
    } finally {
      await source.close();
    }
    const copied = await to.storage.openRead(path);
    const check = sha256();
    await pieces(copied, 0, copied.size, path, (p) => check.update(p)).finally(() => copied.close());
    if (check.hex() !== hasher.hex())
      throw new CheckpointError('CHECKSUM_MISMATCH', `the copy of ${file.path} reads back other bytes than were written`, { file: path });
  }
  await to.storage.syncDir(to.dir);
  return { dir: to.dir, files: files.map((f) => f.path), bytes };
}

/** Whether a directory's names make it a run: a manager's manifest, or a BackupAndRestore's backup directory. */
const isRun = (names: string[]) => names.some((n) => n === 'manifest.json' || n.endsWith('.manifest.json') || n === 'backup');

/** The runs under `root` of `storage` (directories holding a manifest or a backup), to `depth` levels; a run's insides are not searched again. */
export async function listRuns(storage: Storage, root = '.', depth = 4): Promise<RunInfo[]> {
  const names = await storage.list(root).catch(() => null);
  if (names === null) return [];
  if (isRun(names)) {
    const files = await filesOf(storage, root);
    return [{ dir: root, files: files.map((f) => f.path), bytes: files.reduce((n, f) => n + f.size, 0) }];
  }
  if (depth === 0) return [];
  const runs: RunInfo[] = [];
  for (const name of names.sort()) runs.push(...(await listRuns(storage, join(root, name), depth - 1)));
  return runs;
}
