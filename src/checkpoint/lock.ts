/**
 * One writer per checkpoint directory: an exclusive lock file naming its holder (pid, host,
 * time). A lock left by a process that died on this host is stale and is taken over.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { CheckpointError } from './errors.js';
import { type Storage, fsStorage, readFileIfExists } from './storage.js';

export const LOCK_NAME = 'manager.lock';

interface LockInfo { pid: number; host: string; time: string }

const held = new Set<string>();
let exitHookInstalled = false;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Takes the lock of `dir`, or throws LOCKED naming the holder. Returns a release function. */
export async function acquireLock(storage: Storage, dir: string, warn: (message: string) => void): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_NAME);
  const me: LockInfo = { pid: process.pid, host: hostname(), time: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const h = await storage.createExclusive(path);
      await h.write([new TextEncoder().encode(JSON.stringify(me))]);
      await h.sync();
      await h.close();
      held.add(path);
      if (storage === fsStorage && !exitHookInstalled) {
        // A process that exits normally (or on Ctrl-C through process.exit) leaves no lock behind.
        process.on('exit', () => { for (const p of held) rmSync(p, { force: true }); });
        exitHookInstalled = true;
      }
      return async () => {
        held.delete(path);
        await storage.remove(path);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const bytes = await readFileIfExists(storage, path);
    let holder: LockInfo | null = null;
    try {
      holder = bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as LockInfo) : null;
    } catch {
      holder = null; // a torn lock file: its writer died while writing it
    }
    const stale = holder === null || (holder.host === me.host && holder.pid !== me.pid && !isAlive(holder.pid));
    if (!stale) {
      const who = holder!.pid === me.pid && holder!.host === me.host ? 'another CheckpointManager in this process (close() it first)' : `pid ${holder!.pid} on ${holder!.host}`;
      throw new CheckpointError('LOCKED', `${dir} is being written by ${who} since ${holder!.time}`, { file: path });
    }
    warn(`taking over the stale lock of ${dir}${holder ? ` (pid ${holder.pid} on ${holder.host} is gone)` : ' (unreadable lock file)'}`);
    await storage.remove(path);
  }
  throw new CheckpointError('LOCKED', `could not take the lock of ${dir}`, { file: path });
}
