/**
 * Which checkpoints stay, and which leftovers are a manager's: CheckpointManager's retention
 * (and so ModelCheckpoint's `maxToKeep`, whose files a manager keeps).
 */
import { type Mode, resolveMode } from '../state/mode.js';
import { TEMP_SUFFIX } from '../storage/temp-names.js';
import { crc32 } from './layout/crc32.js';

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
}

export interface SelectionPolicy {
  /** Keep the newest N in the managed set; null keeps every one. */
  maxToKeep: number | null;
  /** Preserve for good a checkpoint leaving the managed set at least N hours after the last preserved one. */
  keepEveryNHours: number | null;
  bestOf: BestOf | null;
  /** Delete the oldest (never the newest) until the managed set fits in this many bytes. */
  maxBytes: number | null;
}

export interface Sweep<E> {
  /** Still managed, oldest first. */
  keep: E[];
  /** Leaving the managed set, but kept on disk for good. */
  preserve: E[];
  remove: E[];
  /** The new last preserved time (ms). */
  lastPreserved: number;
}

/**
 * TensorFlow's sweep (checkpoint_management.py `_sweep`), after `newest` joined `active`:
 * while more than maxToKeep are managed, the oldest leaves; it is preserved for good if it is
 * at least keepEveryNHours newer than the last preserved one, else deleted. Waypoint's
 * additions: the `bestOf` best never leave, and `maxBytes` then deletes the oldest.
 */
export function sweep<E extends Retained>(
  active: E[],
  newest: E,
  policy: SelectionPolicy,
  lastPreserved: number,
  timeOf: (e: E) => number,
): Sweep<E> {
  const best = new Set(policy.bestOf !== null ? bestEntries(active, policy.bestOf) : []);
  // The ones older than the newest maxToKeep leave the managed set, oldest first.
  const leaving = policy.maxToKeep === null ? 0 : active.length - policy.maxToKeep;
  const keep: E[] = [],
    preserve: E[] = [],
    remove: E[] = [];
  for (const [i, e] of active.entries()) {
    if (i >= leaving || e === newest || best.has(e)) {
      keep.push(e);
      continue;
    }
    if (policy.keepEveryNHours !== null && timeOf(e) - policy.keepEveryNHours * 3_600_000 >= lastPreserved) {
      lastPreserved = timeOf(e);
      preserve.push(e);
    } else {
      remove.push(e);
    }
  }
  if (policy.maxBytes !== null) {
    let total = keep.reduce((n, e) => n + e.size, 0);
    for (const e of [...keep]) {
      if (total <= policy.maxBytes) break;
      if (e === newest) continue;
      keep.splice(keep.indexOf(e), 1);
      remove.push(e);
      total -= e.size;
    }
  }
  return { keep, preserve, remove, lastPreserved };
}

function bestEntries<E extends Retained>(entries: E[], bestOf: BestOf): E[] {
  const mode = resolveMode(bestOf.mode ?? 'auto', bestOf.monitor);
  const m = bestOf.monitor;
  const scored = entries.filter((e) => Number.isFinite(e.metrics[m]));
  scored.sort(
    (a, b) => (mode === 'min' ? a.metrics[m] - b.metrics[m] : b.metrics[m] - a.metrics[m]) || b.step - a.step,
  );
  return scored.slice(0, bestOf.keep ?? 1);
}

/** A short tag naming a writer (a manager's manifest and checkpoint name): 8 hex digits of the CRC-32 of `id`. */
export function ownerTag(id: string): string {
  return crc32(new TextEncoder().encode(id)).toString(16).padStart(8, '0');
}

/**
 * Whether `name` is the temporary file of one of `owner`'s writes: `.{target}.{owner}~{unique}.wpt-tmp`
 * (format/writer.ts `tempPathFor`). Files written before writes were tagged (no `~`) are
 * recognised by their target's name, which `isLegacyTarget` accepts.
 */
export function isTemporaryOf(name: string, owner: string, isLegacyTarget: (target: string) => boolean): boolean {
  if (!name.startsWith('.') || !name.endsWith(TEMP_SUFFIX)) return false;
  const parts = name.slice(1, -TEMP_SUFFIX.length).split('.');
  const unique = parts.at(-1)!;
  if (unique.includes('~')) return unique.startsWith(`${owner}~`);
  return isLegacyTarget(parts.slice(0, -1).join('.'));
}

/** `s` as a regular expression that matches exactly it. */
export const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
