/**
 * The manifest of a checkpoint directory (docs/FORMAT.md §11): which checkpoints a manager
 * keeps, which it preserved, which `Checkpoint.save` recorded, and which it is deleting. It is
 * an on-disk contract, read by `CheckpointManager`, `Checkpoint.save` and `latestCheckpoint`.
 *
 * Every path read from a manifest is relative to its directory and must stay inside it: a
 * copied or tampered run directory must never make retention delete, or a resume read, a
 * file elsewhere. Entries that break this are refused by `parseManifest`.
 */
import { basename, dirname, join, staysInside } from '../paths.js';
import { CheckpointError } from '../state/errors.js';
import {
  type PublishCondition,
  type Storage,
  getDefaultStorage,
  readFileIfExists,
  writeAtomically,
  writeFileAtomic,
} from '../storage/storage.js';
import { type WriteResult } from './format/writer.js';
import { tempPathFor } from '../storage/temp-names.js';
import { acquireLock } from './lock.js';
import { osError } from '../storage/os-errors.js';
import type { BestOf } from './retention.js';

export const MANIFEST_NAME = 'manifest.json';

export interface RetentionPolicy {
  /** Keep the newest N (default 5); null keeps every checkpoint. */
  maxToKeep: number | null;
  /** Also keep one checkpoint every N hours, for good. */
  keepEveryNHours: number | null;
  /** Also keep the best `keep` by a metric. */
  bestOf: BestOf | null;
  /** Delete the oldest (never the newest) until the files fit in this many bytes. */
  maxBytes: number | null;
}

export interface ManifestEntry {
  file: string;
  step: number;
  epoch?: number;
  metrics: Record<string, number>;
  time: string;
  size: number;
  /** CRC-32 of the file's header (from its trailer): identifies this exact file. */
  headerCrc32: number;
  /** Why it was saved, when not by schedule ("error: …" for a backup at a failed fit). */
  reason?: string;
  /** With the manager's `hash: 'sha256'`: the SHA-256 of the file's bytes, as 64 hex digits. */
  sha256?: string;
  /** What the save cost (files written by a manager since 2026-12-07). */
  cost?: SaveCost;
  /** Set in manifests before 2026-12: kept for good by keepEveryNHours (now the `preserved` list). */
  preserved?: boolean;
}

/**
 * A save's cost, in milliseconds and bytes: how long the caller was blocked (for a background
 * save, until the state was copied), the time spent encoding, writing and syncing (each summed
 * over its parts, which overlap), how long until the file was durable, and the entries' bytes
 * before and after encoding.
 */
export interface SaveCost {
  blockedMs: number;
  encodeMs: number;
  writeMs: number;
  syncMs: number;
  durableAfterMs: number;
  bytes: number;
  storedBytes: number;
}

export interface Manifest {
  format: 'waypoint-manifest';
  version: 1;
  checkpointName: string;
  policy: RetentionPolicy;
  /** As TensorFlow's last_preserved_timestamp: the manager's creation (minus 1 s) until keepEveryNHours preserves one. */
  lastPreservedTime: string | null;
  /** The managed checkpoints, oldest first: the ones retention may still delete. */
  checkpoints: ManifestEntry[];
  /** Checkpoints kept for good (keepEveryNHours, or a clock that went backwards): on disk, no longer managed. */
  preserved?: ManifestEntry[];
  /** Files recorded by `Checkpoint.save`: listed (and one may be `latest`), never deleted by retention. */
  unmanaged?: ManifestEntry[];
  /** Files retention decided to delete and has not yet deleted (a failure or a crash in between): retried. */
  removing?: string[];
  /** The newest checkpoint written here (by the manager or `Checkpoint.save`), relative to the directory. */
  latest?: string;
}

export interface ParsedManifest {
  manifest: Manifest;
  /** Each path refused (outside the directory, or not a path), as `'<where>': <value>`. */
  refused: string[];
}

/**
 * Parses a manifest, dropping (and reporting) every entry whose path leaves the directory.
 * Throws when the bytes are not a manifest at all.
 */
export function parseManifest(bytes: Uint8Array): ParsedManifest {
  const m = JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
  if (m === null || typeof m !== 'object' || m.format !== 'waypoint-manifest' || !Array.isArray(m.checkpoints))
    throw new Error('not a waypoint manifest');
  const refused: string[] = [];
  const safeEntries = (list: unknown, where: string): ManifestEntry[] => {
    if (!Array.isArray(list)) return [];
    return list.filter((e: ManifestEntry | null, i) => {
      const ok = e !== null && typeof e === 'object' && staysInside(e.file) && Number.isFinite(e.step);
      if (!ok) refused.push(`${where}[${i}]: ${JSON.stringify(e?.file ?? e)}`);
      return ok;
    });
  };
  m.checkpoints = safeEntries(m.checkpoints, 'checkpoints');
  if (m.preserved !== undefined) m.preserved = safeEntries(m.preserved, 'preserved');
  if (m.unmanaged !== undefined) m.unmanaged = safeEntries(m.unmanaged, 'unmanaged');
  if (m.removing !== undefined) {
    const removing = Array.isArray(m.removing) ? m.removing : [];
    m.removing = removing.filter(
      (f, i) => staysInside(f) || (refused.push(`removing[${i}]: ${JSON.stringify(f)}`), false),
    );
  }
  if (m.latest !== undefined && !staysInside(m.latest)) {
    refused.push(`latest: ${JSON.stringify(m.latest)}`);
    delete m.latest;
  }
  return { manifest: m, refused };
}

/** The error for a manifest that names files outside its directory. */
export function unsafeManifestError(path: string, refused: string[]): CheckpointError {
  return new CheckpointError(
    'UNSAFE_PATH',
    `the manifest names ${refused.length === 1 ? 'a path' : 'paths'} outside its directory, refused: ` +
      `${refused.slice(0, 5).join(', ')}${refused.length > 5 ? ` and ${refused.length - 5} more` : ''}`,
    { file: path },
  );
}

/** A manifest with no checkpoints; as TensorFlow, the preservation clock starts a second before `now`. */
export function emptyManifest(checkpointName: string, policy: RetentionPolicy, now: number): Manifest {
  return {
    format: 'waypoint-manifest',
    version: 1,
    checkpointName,
    policy,
    lastPreservedTime: new Date(now - 1000).toISOString(),
    checkpoints: [],
  };
}

/**
 * Writes a manifest atomically; `owner` tags its temporary file (see `tempPathFor`). Under
 * `condition` (an object store that enforces conditional writes) the commit succeeds only
 * over the version this writer last read or wrote, or where there is none yet: two writers
 * cannot overwrite each other's commit. Returns the new manifest's version, where stamped.
 */
export async function writeManifestFile(
  storage: Storage,
  path: string,
  m: Manifest,
  failure: string,
  owner?: string,
  condition?: PublishCondition,
): Promise<string | undefined> {
  const bytes = new TextEncoder().encode(`${JSON.stringify(m, null, 1)}\n`);
  if (condition) {
    return writeAtomically(storage, path, bytes, condition).catch((cause) => {
      const code = (cause as { code?: string }).code;
      if (code === 'ECONFLICT' || code === 'EEXIST')
        throw new CheckpointError(
          'LOCKED',
          `another writer committed ${path} since this manager ${condition.ifVersion ? `read it (version ${condition.ifVersion})` : 'found none'}; nothing was overwritten: ${(cause as Error).message}`,
          { file: path, cause },
        );
      throw osError(failure, path, cause);
    });
  }
  await writeFileAtomic(storage, path, bytes, tempPathFor(path, owner)).catch((cause) => {
    throw osError(failure, path, cause);
  });
  return undefined;
}

/** The manifest of `dir` (null when there is none or it is not one); refuses one naming paths outside `dir`. */
async function readManifest(storage: Storage, dir: string): Promise<Manifest | null> {
  const path = join(dir, MANIFEST_NAME);
  const bytes = await readFileIfExists(storage, path);
  if (bytes === null) return null;
  let parsed: ParsedManifest;
  try {
    parsed = parseManifest(bytes);
  } catch {
    return null;
  }
  if (parsed.refused.length) throw unsafeManifestError(path, parsed.refused);
  return parsed.manifest;
}

/**
 * Records a file written by `Checkpoint.save` in its directory's manifest, under the
 * directory's lock: it becomes the directory's latest checkpoint, which `latestCheckpoint`
 * and a later manager's `restoreOrInitialize` find. As in TensorFlow (whose
 * `Checkpoint.save` records no timestamps, so a manager never deletes its files), such files
 * are listed as unmanaged: no retention deletes them.
 */
export async function recordSave(storage: Storage, path: string, step: number, result: WriteResult): Promise<void> {
  const dir = dirname(path),
    file = basename(path);
  const warn = (m: string) => console.warn(`waypoint: ${m}`);
  const lock = await acquireLock(storage, dir, { warn });
  try {
    const m =
      (await readManifest(storage, dir)) ??
      emptyManifest(
        file.replace(/-\d+\.wpt$/, ''),
        { maxToKeep: 5, keepEveryNHours: null, bestOf: null, maxBytes: null },
        Date.now(),
      );
    const entry: ManifestEntry = {
      file,
      step,
      metrics: {},
      time: new Date().toISOString(),
      size: result.bytes,
      headerCrc32: result.headerCrc32,
    };
    m.checkpoints = m.checkpoints.filter((e) => e.file !== file);
    m.unmanaged = [...(m.unmanaged ?? []).filter((e) => e.file !== file), entry];
    m.latest = file;
    await writeManifestFile(storage, join(dir, MANIFEST_NAME), m, 'recording the checkpoint in the manifest failed');
  } finally {
    await lock.release();
  }
}

/** Whether `name` is `{checkpointName}-{N}.wpt`. */
export function isNumberedFile(name: string, checkpointName: string): boolean {
  return name.startsWith(`${checkpointName}-`) && /^\d+\.wpt$/.test(name.slice(checkpointName.length + 1));
}

/**
 * The newest checkpoint recorded in `dir` (by a CheckpointManager or `Checkpoint.save`), as
 * tf.train.latest_checkpoint; null when there is none. Reads only the manifest, and refuses
 * (UNSAFE_PATH) one that names a file outside `dir`.
 */
export async function latestCheckpoint(dir: string, storage: Storage = getDefaultStorage()): Promise<string | null> {
  const m = await readManifest(storage, dir);
  const latest = m?.latest ?? m?.checkpoints.at(-1)?.file;
  return latest ? join(dir, latest) : null;
}
