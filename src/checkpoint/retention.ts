/**
 * Which checkpoints stay, and which leftovers go: the one implementation behind both
 * CheckpointManager's retention and ModelCheckpoint's `maxToKeep` and start-up sweep.
 */
import { join } from 'node:path';
import { type Mode, resolveMode } from '../state/mode.js';
import type { Storage } from './storage/storage.js';
import { TEMP_SUFFIX } from './format/writer.js';

export interface BestOf {
  monitor: string;
  mode?: Mode;
  /** How many of the best to keep (default 1). */
  keep?: number;
}

/** What retention needs to know of a checkpoint, oldest first in the lists it is given. */
export interface Retained {
  step: number;
  size: number;
  metrics: Record<string, number>;
  /** Kept for good (keepEveryNHours). */
  preserved?: boolean;
}

export interface SelectionPolicy {
  /** Keep the newest N; null keeps every one. */
  maxToKeep: number | null;
  bestOf: BestOf | null;
  /** Delete the oldest (never the newest) until the rest fit in this many bytes. */
  maxBytes: number | null;
}

/** Splits `all` (oldest first, `newest` among them) into what the policy keeps and what it deletes. */
export function selectRetained<E extends Retained>(all: E[], newest: E, { maxToKeep, bestOf, maxBytes }: SelectionPolicy): { keep: E[]; remove: E[] } {
  const keep = new Set<E>([newest]);
  for (const e of maxToKeep === null ? all : all.slice(-maxToKeep)) keep.add(e);
  for (const e of all) if (e.preserved) keep.add(e);
  if (bestOf !== null) for (const e of bestEntries(all, bestOf)) keep.add(e);
  if (maxBytes !== null) {
    let total = [...keep].reduce((s, e) => s + e.size, 0);
    for (const e of all) {
      if (total <= maxBytes) break;
      if (e === newest || !keep.has(e)) continue;
      keep.delete(e);
      total -= e.size;
    }
  }
  return { keep: all.filter((e) => keep.has(e)), remove: all.filter((e) => !keep.has(e)) };
}

function bestEntries<E extends Retained>(entries: E[], bestOf: BestOf): E[] {
  const mode = resolveMode(bestOf.mode ?? 'auto', bestOf.monitor);
  const m = bestOf.monitor;
  const scored = entries.filter((e) => Number.isFinite(e.metrics[m]));
  scored.sort((a, b) => (mode === 'min' ? a.metrics[m] - b.metrics[m] : b.metrics[m] - a.metrics[m]) || b.step - a.step);
  return scored.slice(0, bestOf.keep ?? 1);
}

/**
 * Whether `name` is the temporary file of a write of a file whose name `isTarget` accepts:
 * writes go through `.{target}.{unique}.wpt-tmp` (format/writer.ts), and the unique part has no dots.
 */
export function isTemporaryOf(name: string, isTarget: (target: string) => boolean): boolean {
  if (!name.startsWith('.') || !name.endsWith(TEMP_SUFFIX)) return false;
  return isTarget(name.slice(1).split('.').slice(0, -2).join('.'));
}

/** Deletes the temporary files a killed write left in `dir` for targets `isTarget` accepts, and nothing else. */
export async function sweepTemporaries(storage: Storage, dir: string, isTarget: (target: string) => boolean): Promise<void> {
  const names = await storage.list(dir).catch(() => [] as string[]);
  for (const name of names) if (isTemporaryOf(name, isTarget)) await storage.remove(join(dir, name));
}

/** `s` as a regular expression that matches exactly it. */
export const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
