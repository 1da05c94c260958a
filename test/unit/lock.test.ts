import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import {
  Checkpoint,
  CheckpointError,
  CheckpointManager,
  LOCK_NAME,
  MemoryStorage,
  Variable,
  type LockRecord,
} from '../../src/node/index.js';
import { whyStale } from '../../src/checkpoint/lock.js';
import { currentProcess, parseProcStat } from '../../src/node/process-identity.js';

const me = currentProcess();
const lockOf = (over: Partial<LockRecord>): LockRecord => ({
  format: 'waypoint-lock',
  token: 't',
  host: me.host,
  pid: me.pid,
  bootId: me.bootId,
  startTime: me.startTime,
  acquired: new Date().toISOString(),
  heartbeat: new Date().toISOString(),
  leaseMs: 60_000,
  ...over,
});
const manager = (storage: MemoryStorage, options = {}) =>
  new CheckpointManager(new Checkpoint({ v: new Variable(1) }), '/run', { storage, ...options });
const lockText = (storage: MemoryStorage) => new TextDecoder().decode(storage.files.get(`/run/${LOCK_NAME}`)!);

describe('who holds a lock', () => {
  it('reads the state and start time from /proc/<pid>/stat, whatever the command name holds', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = 'Z';
    expect(parseProcStat(`123 (a) b) (c) ${fields.join(' ')}`)).toEqual({ state: 'Z', startTime: '22' });
    expect(parseProcStat('garbage')).toBeNull();
  });

  it('knows this process from /proc on Linux', () => {
    expect(me.host).toBe(hostname());
    expect(me.pid).toBe(process.pid);
    if (process.platform === 'linux') {
      expect(me.bootId).toMatch(/^[0-9a-f-]{36}$/);
      expect(me.startTime).toMatch(/^\d+$/);
    }
  });

  it('is alive: this process while it holds the lock, a running process with the recorded start time, a fresh lease from another host', () => {
    const now = Date.now();
    expect(whyStale(lockOf({}), me, now, true)).toBeNull();
    const parent = existsSync(`/proc/${process.ppid}/stat`) ? readFileSync(`/proc/${process.ppid}/stat`, 'utf8') : null;
    if (parent)
      expect(
        whyStale(lockOf({ pid: process.ppid, startTime: parseProcStat(parent)!.startTime }), me, now, false),
      ).toBeNull();
    expect(
      whyStale(lockOf({ host: 'other-host', pid: 1, heartbeat: new Date(now - 30_000).toISOString() }), me, now, false),
    ).toBeNull();
  });

  it('is gone: this pid without the lock in memory, a reused pid, a dead pid, another boot, an expired lease', () => {
    const now = Date.now();
    expect(whyStale(lockOf({}), me, now, false)).toMatch(/is this process, which does not hold it/);
    if (me.startTime !== null) {
      expect(whyStale(lockOf({ pid: process.ppid, startTime: '1' }), me, now, false)).toMatch(/is now another process/);
      expect(whyStale(lockOf({ startTime: String(Number(me.startTime) - 1) }), me, now, false)).toMatch(
        /is now another process/,
      );
    }
    expect(whyStale(lockOf({ pid: 2 ** 22 + 17 }), me, now, false)).toMatch(/is gone/);
    if (me.bootId !== null)
      expect(whyStale(lockOf({ bootId: 'another-boot' }), me, now, false)).toMatch(/before this machine rebooted/);
    expect(
      whyStale(lockOf({ host: 'other-host', heartbeat: new Date(now - 61_000).toISOString() }), me, now, false),
    ).toMatch(/lease expired 61 s ago/);
  });

  it('without start times (no /proc), a live pid holds the lock only while its lease is fresh', () => {
    const now = Date.now();
    const noProc = { ...me, bootId: null, startTime: null };
    const holder = lockOf({ pid: process.ppid, bootId: null, startTime: null });
    expect(whyStale(holder, noProc, now, false)).toBeNull();
    expect(whyStale({ ...holder, heartbeat: new Date(now - 120_000).toISOString() }, noProc, now, false)).toMatch(
      /lease expired/,
    );
  });
});

describe('the lock of a CheckpointManager', () => {
  it('records host, boot id, pid and start time; two managers of one process are told apart from memory', async () => {
    const storage = new MemoryStorage();
    const first = manager(storage);
    await first.ready;
    expect(JSON.parse(lockText(storage))).toMatchObject({
      host: me.host,
      pid: me.pid,
      bootId: me.bootId,
      startTime: me.startTime,
    });
    const err = await manager(storage).ready.catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(
      /LOCKED: \/run is being written by another CheckpointManager in this process \(close\(\) it first\)/,
    );
    await first.close();
    expect(storage.files.has(`/run/${LOCK_NAME}`)).toBe(false);
    await manager(storage).close(); // free again
  });

  it('takeOverLock takes a live lock; the old holder finds out at its next save and writes nothing', async () => {
    const storage = new MemoryStorage();
    const first = manager(storage);
    await first.ready;
    const warnings: string[] = [];
    const second = manager(storage, { takeOverLock: true, warn: (m: string) => warnings.push(m) });
    await second.ready;
    expect(warnings.join()).toMatch(/taking over the lock of \/run from pid \d+ .* as asked/);
    const before = [...storage.files.keys()].sort();
    const err = await first.save({ step: 5 }).catch((e) => e);
    expect(err.code).toBe('LOCKED');
    expect(err.message).toMatch(/no longer this manager's: pid \d+ on .* took it over/);
    expect([...storage.files.keys()].sort()).toEqual(before);
    await first.close(); // leaves the new holder's lock alone
    expect(JSON.parse(lockText(storage)).token).not.toBe(undefined);
    expect(await second.save({ step: 6 })).toBe('/run/ckpt-6.wpt');
    await second.close();
  });

  it('a lock from another host is a lease: refused while its heartbeat is fresh, taken over once it expired', async () => {
    const storage = new MemoryStorage();
    const remote = (ageMs: number) =>
      lockOf({ host: 'other-host', pid: 4242, heartbeat: new Date(Date.now() - ageMs).toISOString(), leaseMs: 60_000 });
    storage.files.set(`/run/${LOCK_NAME}`, new TextEncoder().encode(JSON.stringify(remote(5_000))));
    const err = await manager(storage).ready.catch((e) => e);
    expect(err.message).toMatch(/LOCKED: .*pid 4242 on other-host .*takeOverLock: true/);
    storage.files.set(`/run/${LOCK_NAME}`, new TextEncoder().encode(JSON.stringify(remote(90_000))));
    const warnings: string[] = [];
    const taker = manager(storage, { warn: (m: string) => warnings.push(m) });
    await taker.ready;
    expect(warnings.join()).toMatch(/stale lock .*pid 4242 on other-host: its lease expired 90 s ago/);
    await taker.close();
  });

  it('the holder refreshes its heartbeat while it works', async () => {
    const storage = new MemoryStorage();
    const m = manager(storage, { lockLeaseMs: 1000 });
    await m.ready;
    const first = JSON.parse(lockText(storage)).heartbeat;
    await new Promise((r) => setTimeout(r, 600)); // a quarter of the lease between beats
    expect(Date.parse(JSON.parse(lockText(storage)).heartbeat)).toBeGreaterThan(Date.parse(first));
    await m.close();
    expect(storage.files.has(`/run/${LOCK_NAME}`)).toBe(false); // no heartbeat after close writes it back
    await new Promise((r) => setTimeout(r, 300));
    expect(storage.files.has(`/run/${LOCK_NAME}`)).toBe(false);
  });

  it('an unreadable lock file (its writer died mid-write) is taken over after a second look', async () => {
    const storage = new MemoryStorage();
    storage.files.set(`/run/${LOCK_NAME}`, new Uint8Array(0));
    const warnings: string[] = [];
    const m = manager(storage, { warn: (w: string) => warnings.push(w) });
    await m.ready;
    expect(warnings.join()).toMatch(/unreadable lock file/);
    await m.close();
  });
});
