/**
 * One writer per checkpoint directory: an exclusive lock file naming its holder. A holder is
 * identified by (host, boot id, pid, start time), so a restarted container whose new process
 * has the old pid, a pid the kernel reused, or an unreaped zombie are all recognised as gone.
 * Locks this process holds are known from memory, never inferred from pid equality.
 *
 * The holder also refreshes a heartbeat in the file (a lease). A lock from another host (a
 * shared filesystem), or from this host where processes cannot be told apart (no /proc),
 * is stale once its heartbeat is older than its lease. Rules in docs/FORMAT.md §10.
 *
 * In a browser there are no pids: a page holds a Web Lock (the platform's exclusiveLock)
 * beside the file, which the browser releases when the page is reloaded or closed. Whoever
 * gets that lock knows any lock file left in the directory is stale.
 */
import { join } from '../paths.js';
import { CheckpointError } from '../state/errors.js';
import { type HeldExclusiveLock, type ProcessIdentity, platform } from '../platform.js';
import { type Storage, readFileIfExists, writeAtomically, writeFileAtomic, writeNewFile } from '../storage/storage.js';
import { tempPathFor } from '../storage/temp-names.js';
import { osError } from '../storage/os-errors.js';

export const LOCK_NAME = 'manager.lock';

/** A lock whose heartbeat is older than this is stale where liveness cannot be checked directly. */
export const DEFAULT_LEASE_MS = 60_000;

/** How long a lock created on an object store without conditional writes waits before reading itself back. */
export const DEFAULT_SETTLE_MS = 1_000;

export interface LockRecord extends ProcessIdentity {
  format: 'waypoint-lock';
  /** Random: tells this acquisition from any other, even of the same process. */
  token: string;
  acquired: string;
  heartbeat: string;
  leaseMs: number;
}

export interface LockOptions {
  warn: (message: string) => void;
  /** Take the lock even from a holder that looks alive (after making sure it is not). */
  takeOver?: boolean;
  leaseMs?: number;
  now?: () => number;
  /** The lock file's name in the directory (default LOCK_NAME): managers of different files may share a directory. */
  name?: string;
  /** Tags the heartbeat's temporary files as this manager's (see `tempPathFor`). */
  owner?: string;
  /** Where the storage ignores conditional writes: the wait before a new lock is read back (default DEFAULT_SETTLE_MS). */
  settleMs?: number;
}

export interface HeldLock {
  /** Throws LOCKED if another process took the lock over since it was acquired. */
  verify(): Promise<void>;
  release(): Promise<void>;
}

/**
 * Lock paths held by this process, per store (with their tokens): per `lockScope` where the
 * storage names its store (two S3Storage objects on one bucket and prefix are one store), else
 * per Storage object.
 */
const held = new Map<Storage | string, { storage: Storage; paths: Map<string, string> }>();
let exitHookInstalled = false;

const heldIn = (storage: Storage) => {
  const key = storage.lockScope ?? storage;
  let entry = held.get(key);
  if (!entry) held.set(key, (entry = { storage, paths: new Map() }));
  return entry.paths;
};

function randomToken(): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A lock file's holder, or null when the file is not a lock (torn, or foreign). Old locks had only pid, host, time. */
function parseLock(bytes: Uint8Array | null): LockRecord | null {
  if (bytes === null) return null;
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as Partial<LockRecord> & { time?: string };
    if (typeof v.pid !== 'number' || typeof v.host !== 'string') return null;
    const heartbeat = v.heartbeat ?? v.time ?? new Date(0).toISOString();
    return {
      format: 'waypoint-lock',
      token: v.token ?? '',
      bootId: v.bootId ?? null,
      startTime: v.startTime ?? null,
      acquired: v.acquired ?? heartbeat,
      heartbeat,
      leaseMs: v.leaseMs ?? DEFAULT_LEASE_MS,
      pid: v.pid,
      host: v.host,
    };
  } catch {
    return null;
  }
}

/** Why the holder of a lock is gone, or null if it may still be writing. */
export function whyStale(holder: LockRecord, me: ProcessIdentity, now: number, heldHere: boolean): string | null {
  const age = now - Date.parse(holder.heartbeat);
  const leaseExpired = !(age <= holder.leaseMs);
  const expired = `its lease expired ${Math.round(age / 1000)} s ago (heartbeat ${holder.heartbeat}, lease ${holder.leaseMs / 1000} s)`;
  if (holder.host !== me.host) return leaseExpired ? `pid ${holder.pid} on ${holder.host}: ${expired}` : null;
  const who = `pid ${holder.pid} on ${holder.host}`;
  if (holder.bootId !== null && me.bootId !== null && holder.bootId !== me.bootId)
    return `${who} ran before this machine rebooted`;
  const sameProcess = holder.pid === me.pid && (holder.startTime === null || holder.startTime === me.startTime);
  if (sameProcess)
    return heldHere
      ? null
      : `${who} is this process, which does not hold it (left by an earlier process with the same pid)`;
  const state = platform().processState(holder.pid);
  if (state.kind === 'missing') return `${who} is gone`;
  if (state.kind === 'zombie') return `${who} is gone (a zombie: exited, never reaped by its parent)`;
  if (state.kind === 'running' && holder.startTime !== null && state.startTime !== null) {
    return state.startTime === holder.startTime ? null : `${who} is gone (pid ${holder.pid} is now another process)`;
  }
  // No start times to compare: pid reuse cannot be ruled out, so the lease decides.
  return leaseExpired ? `${who}: ${expired}` : null;
}

const encode = (r: LockRecord) => new TextEncoder().encode(`${JSON.stringify(r)}\n`);

/**
 * Creates the lock file; false if it exists. Returns the new file's version where the
 * storage stamps one (an object store's ETag, the condition of each heartbeat's write).
 * On an object store that ignores conditional writes, two create-only PUTs can both
 * succeed: the last one wins, so the file is read back after `settleMs`, longer than a
 * rival's check-then-PUT takes, and is ours only if it still holds our token (FORMAT.md §10.1).
 */
async function tryCreate(
  storage: Storage,
  path: string,
  record: LockRecord,
  settleMs: number,
): Promise<{ created: boolean; version?: string }> {
  let version: string | undefined;
  try {
    version = await writeNewFile(storage, path, encode(record));
  } catch (e) {
    if ((e as { code?: string }).code === 'EEXIST') return { created: false };
    throw osError('cannot create the lock file', path, e);
  }
  if ((await storage.conditionalWrites?.()) === false) {
    // Held here while it settles: another manager of this process reading it meanwhile must see a live holder.
    const mine = heldIn(storage);
    mine.set(path, record.token);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    if (parseLock(await readFileIfExists(storage, path))?.token !== record.token) {
      if (mine.get(path) === record.token) mine.delete(path);
      return { created: false };
    }
  }
  return { created: true, version };
}

/** Reads the holder; a file with no parsable holder is read again after a moment (its writer may be mid-write). */
async function readHolder(storage: Storage, path: string): Promise<{ exists: boolean; holder: LockRecord | null }> {
  for (let attempt = 0; ; attempt++) {
    const bytes = await readFileIfExists(storage, path);
    const holder = parseLock(bytes);
    if (bytes === null || holder !== null || attempt === 1) return { exists: bytes !== null, holder };
    await new Promise((r) => setTimeout(r, 200));
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A process that exits through process.exit (or the end of its event loop) leaves no lock
  // behind, on storages that can remove a file at once.
  platform().onExit(() => {
    for (const { storage, paths } of held.values()) {
      if (!storage.readSync || !storage.removeSync) continue;
      for (const [path, token] of paths) {
        try {
          if (parseLock(storage.readSync(path))?.token === token) storage.removeSync(path);
        } catch {
          /* already gone */
        }
      }
    }
  });
}

/** Takes the lock of `dir`, or throws LOCKED naming the holder and how to take over. */
export async function acquireLock(given: Storage, dir: string, options: LockOptions): Promise<HeldLock> {
  const storage = given.locks ?? given;
  const path = join(dir, options.name ?? LOCK_NAME);
  const now = options.now ?? Date.now;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const me = platform().identity();
  const stamp = () => new Date(now()).toISOString();
  const record: LockRecord = {
    format: 'waypoint-lock',
    ...me,
    token: randomToken(),
    acquired: stamp(),
    heartbeat: stamp(),
    leaseMs,
  };
  const tabLock = await platform().exclusiveLock?.(`waypoint:${storage.lockScope ?? 'storage'}:${path}`);
  if (tabLock === null) {
    const who = heldIn(storage).has(path)
      ? 'another CheckpointManager in this page (close() it first)'
      : "another page or worker of this origin (it holds the directory's Web Lock)";
    throw new CheckpointError('LOCKED', `${dir} is being written by ${who}`, { file: path });
  }
  let version: string | undefined;
  try {
    version = await takeFile(storage, dir, path, record, options, tabLock);
  } catch (e) {
    tabLock?.release();
    throw e;
  }
  const conditional = version !== undefined && (await storage.conditionalWrites?.()) === true;
  return holdLock(storage, dir, path, record, options, tabLock, conditional ? version : undefined);
}

async function takeFile(
  storage: Storage,
  dir: string,
  path: string,
  record: LockRecord,
  options: LockOptions,
  tabLock: HeldExclusiveLock | undefined,
): Promise<string | undefined> {
  const now = options.now ?? Date.now;
  const me = platform().identity();
  const mine = heldIn(storage);
  let acquired = false;
  let version: string | undefined;
  for (let attempt = 0; attempt < 3 && !acquired; attempt++) {
    const created = await tryCreate(storage, path, record, options.settleMs ?? DEFAULT_SETTLE_MS);
    if (created.created) {
      acquired = true;
      version = created.version;
      break;
    }
    const { exists, holder } = await readHolder(storage, path);
    if (!exists) continue; // released meanwhile
    const stale =
      holder === null
        ? 'unreadable lock file'
        : tabLock
          ? `pid ${holder.pid} on ${holder.host} is a page that is gone: this page holds the directory's Web Lock`
          : whyStale(holder, me, now(), mine.has(path));
    if (stale === null && !options.takeOver) {
      const who =
        holder!.pid === me.pid && holder!.host === me.host && mine.has(path)
          ? 'another CheckpointManager in this process (close() it first)'
          : `pid ${holder!.pid} on ${holder!.host} (since ${holder!.acquired}, heartbeat ${holder!.heartbeat})`;
      throw new CheckpointError(
        'LOCKED',
        `${dir} is being written by ${who}; if that writer is gone, take the lock over explicitly ` +
          `(takeOverLock: true, or waypoint train --take-over-lock)` +
          ((await storage.conditionalWrites?.()) === false
            ? '; this store ignores conditional writes, so the lock is a lease read back after writing (docs/FORMAT.md §10.1)'
            : ''),
        { file: path },
      );
    }
    options.warn(
      stale === null
        ? `taking over the lock of ${dir} from pid ${holder!.pid} on ${holder!.host}, as asked (takeOverLock)`
        : `taking over the stale lock of ${dir} (${stale})`,
    );
    if (mine.has(path)) mine.delete(path); // taken from a manager of this process: it learns so at its next verify
    await storage.remove(path);
  }
  if (!acquired)
    throw new CheckpointError('LOCKED', `could not take the lock of ${dir}: other processes keep taking it`, {
      file: path,
    });
  mine.set(path, record.token);
  installExitHook();
  return version;
}

function holdLock(
  storage: Storage,
  dir: string,
  path: string,
  record: LockRecord,
  options: LockOptions,
  tabLock: HeldExclusiveLock | undefined,
  /** The lock file's version where the store enforces conditional writes: each heartbeat replaces exactly it. */
  version: string | undefined,
): HeldLock {
  const now = options.now ?? Date.now;
  const stamp = () => new Date(now()).toISOString();
  const leaseMs = record.leaseMs;
  const mine = heldIn(storage);
  let lost: string | null = null;
  // When the lock was last read back as ours: on a remote store a save trusts a reading
  // younger than a heartbeat's interval rather than wait a round trip for each one; a takeover
  // there is noticed by the next heartbeat (docs/FORMAT.md §10.1).
  let confirmedAt = now();
  const check = async (fresh = true) => {
    if (lost !== null || (!fresh && storage.networked && now() - confirmedAt < leaseMs / 4)) return;
    // On the file system, a synchronous read of the tiny file: an asynchronous one waits in
    // Node's thread pool behind the background saves' fsyncs (milliseconds per save).
    const holder = storage.readSync ? parseLock(storage.readSync(path)) : (await readHolder(storage, path)).holder;
    if (holder?.token !== record.token) {
      lost = holder
        ? `pid ${holder.pid} on ${holder.host} took it over at ${holder.acquired}`
        : 'the lock file was deleted';
      if (mine.get(path) === record.token) mine.delete(path);
    } else confirmedAt = now();
  };
  const refresh = async () => {
    await check();
    if (lost !== null) return;
    record.heartbeat = stamp();
    if (version === undefined) {
      await writeFileAtomic(storage, path, encode(record), tempPathFor(path, options.owner));
      return;
    }
    try {
      version = await writeAtomically(storage, path, encode(record), { ifVersion: version });
    } catch (e) {
      if ((e as { code?: string }).code !== 'ECONFLICT') throw e;
      lost = 'another writer replaced the lock file (its version changed)';
      if (mine.get(path) === record.token) mine.delete(path);
    }
  };
  // The lease's heartbeat: a quarter of the lease, so three missed beats still leave it valid.
  let refreshing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    refreshing = refresh().catch((e: Error) => options.warn(`could not refresh the lock of ${dir}: ${e.message}`));
  }, leaseMs / 4);
  (timer as { unref?: () => void }).unref?.();

  return {
    async verify() {
      await check(false);
      if (lost !== null)
        throw new CheckpointError('LOCKED', `${dir} is no longer this manager's: ${lost}; nothing was written`, {
          file: path,
        });
    },
    async release() {
      clearInterval(timer);
      await refreshing; // a heartbeat in flight would otherwise write the lock back
      await check();
      if (lost === null) {
        mine.delete(path);
        await storage.remove(path);
      }
      tabLock?.release();
    },
  };
}
