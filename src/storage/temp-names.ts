/**
 * Temporary names: a file is written under one beside its target, then renamed over it, so
 * that a reader sees the old file or the new one, never half (see writeFileAtomic).
 */
import { basename, dirname, join } from '../paths.js';
import { platform } from '../platform.js';

/** Suffix of in-progress files; a CheckpointManager deletes its own leftovers with it on start. */
export const TEMP_SUFFIX = '.wpt-tmp';
/** The longest file name (in UTF-8 bytes) common file systems take. */
const NAME_MAX = 255;
let tempCounter = 0;

/**
 * A temporary name beside `path`: `.{name}.{owner}~{pid}-{time}-{n}.wpt-tmp`. `owner` (a
 * manager's tag, see `ownerTag`) says whose write it is, so a manager sweeps only its own
 * leftovers; the target's name is shortened where the whole would pass NAME_MAX bytes.
 */
export function tempPathFor(path: string, owner?: string): string {
  const unique = `${owner === undefined ? '' : `${owner}~`}${platform().identity().pid}-${Date.now().toString(36)}-${tempCounter++}`;
  const room = NAME_MAX - (unique.length + TEMP_SUFFIX.length + 2);
  return join(dirname(path), `.${prefixOfBytes(basename(path), room)}.${unique}${TEMP_SUFFIX}`);
}

/** The longest prefix of `s` of at most `bytes` UTF-8 bytes, never splitting a character. */
function prefixOfBytes(s: string, bytes: number): string {
  const encoder = new TextEncoder();
  if (encoder.encode(s).length <= bytes) return s;
  let out = '';
  for (const ch of s) {
    if (encoder.encode(out + ch).length > bytes) break;
    out += ch;
  }
  return out;
}
