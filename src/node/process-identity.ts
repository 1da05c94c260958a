/**
 * Who a process is, in a way that survives pid reuse: a pid alone names a different process
 * after a container restart (pid 1 again) or once the kernel recycles it. On Linux a process
 * is (boot id, pid, start time): `/proc/sys/kernel/random/boot_id` changes at every boot, and
 * field 22 of `/proc/<pid>/stat` is the start time in clock ticks since boot. Elsewhere
 * (macOS, Windows) boot id and start time are null and callers fall back to a lease.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { ProcessIdentity, ProcessState } from '../platform.js';

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * The fields of /proc/<pid>/stat after the command name, which is in parentheses and may
 * itself contain spaces and parentheses: the last ')' ends it.
 */
export function parseProcStat(text: string): { state: string; startTime: string } | null {
  const end = text.lastIndexOf(')');
  if (end < 0) return null;
  const fields = text
    .slice(end + 2)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
  if (fields.length < 20) return null;
  return { state: fields[0], startTime: fields[19] };
}

let self: ProcessIdentity | null = null;

export function currentProcess(): ProcessIdentity {
  if (self) return self;
  const stat = readText('/proc/self/stat');
  self = {
    host: hostname(),
    pid: process.pid,
    bootId: readText('/proc/sys/kernel/random/boot_id')?.trim() || null,
    startTime: stat ? (parseProcStat(stat)?.startTime ?? null) : null,
  };
  return self;
}

/** Looks a pid up on this host: through /proc where it exists, else with signal 0. */
export function processState(pid: number): ProcessState {
  if (!(Number.isInteger(pid) && pid > 0)) return { kind: 'missing' };
  if (currentProcess().bootId !== null) {
    const stat = readText(`/proc/${pid}/stat`);
    if (stat === null) return { kind: 'missing' };
    const parsed = parseProcStat(stat);
    if (parsed === null) return { kind: 'unknown' };
    // Z: exited and not yet reaped by its parent; X: being torn down. Neither can write.
    if (parsed.state === 'Z' || parsed.state === 'X') return { kind: 'zombie' };
    return { kind: 'running', startTime: parsed.startTime };
  }
  try {
    process.kill(pid, 0);
    return { kind: 'running', startTime: null };
  } catch (e) {
    // EPERM: it exists, owned by another user.
    return (e as { code?: string }).code === 'EPERM' ? { kind: 'running', startTime: null } : { kind: 'missing' };
  }
}
