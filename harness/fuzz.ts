/**
 * Mutations of a valid .wpt file for the decoder fuzzer: raw byte damage (bit flips, byte
 * overwrites, truncations, garbage appended) and structural edits made with valid checksums
 * (header fields changed to huge, negative, duplicate or overlapping values), so the
 * validation behind the CRC is exercised too.
 */
import { crc32 } from '../src/checkpoint/layout/crc32.js';
import { TRAILER_SIZE, encodeTrailer } from '../src/checkpoint/layout/format.js';
import { Random } from '../src/node/index.js';

export type Mutation = { bytes: Uint8Array; structural: boolean; what: string };

function rebuild(file: Uint8Array, header: unknown): Uint8Array {
  const view = new DataView(file.buffer, file.byteOffset, file.length);
  const headerOffset = Number(view.getBigUint64(file.length - TRAILER_SIZE, true));
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(headerOffset + json.length + TRAILER_SIZE);
  out.set(file.subarray(0, headerOffset));
  out.set(json, headerOffset);
  out.set(encodeTrailer(headerOffset, json.length, crc32(json)), headerOffset + json.length);
  return out;
}

function headerOf(file: Uint8Array): any {
  const view = new DataView(file.buffer, file.byteOffset, file.length);
  const offset = Number(view.getBigUint64(file.length - TRAILER_SIZE, true));
  const length = view.getUint32(file.length - TRAILER_SIZE + 8, true);
  return JSON.parse(new TextDecoder().decode(file.subarray(offset, offset + length)));
}

const HOSTILE = [-1, 0, 1, 2 ** 31, 2 ** 32, 2 ** 53, 1e308, -1e308, 0.5, NaN, null, 'x', [], {}];

export function mutate(file: Uint8Array, rng: Random): Mutation {
  const pick = <T>(xs: readonly T[]) => xs[rng.int(xs.length)];
  const kind = rng.int(8);
  const bytes = file.slice();
  switch (kind) {
    case 0: {
      const i = rng.int(bytes.length);
      bytes[i] ^= 1 << rng.int(8);
      return { bytes, structural: false, what: `bit flip at ${i}` };
    }
    case 1: {
      const i = rng.int(bytes.length);
      bytes[i] ^= 1 + rng.int(255);
      return { bytes, structural: false, what: `byte overwrite at ${i}` };
    }
    case 2: {
      const n = rng.int(bytes.length);
      return { bytes: bytes.subarray(0, n), structural: false, what: `truncated to ${n}` };
    }
    case 3: {
      const extra = Uint8Array.from({ length: 1 + rng.int(64) }, () => rng.int(256));
      return { bytes: new Uint8Array([...bytes, ...extra]), structural: false, what: 'garbage appended' };
    }
    default: {
      const h = headerOf(file);
      const e = h.entries.length ? pick(h.entries as any[]) : null;
      const field = pick([
        'offset',
        'length',
        'crc32',
        'shape',
        'dtype',
        'codec',
        'planes',
        'planeLengths',
        'key',
        'duplicate',
        'overlap',
        'version',
        'entries',
        'kind',
      ]);
      if (field === 'duplicate' && e) h.entries.push({ ...e });
      else if (field === 'overlap' && h.entries.length > 1) h.entries[1].offset = h.entries[0].offset;
      else if (field === 'version') h.version = pick([[1, 0], [1, 7], [2, 0], [0, 0], 'x']);
      else if (field === 'entries') h.entries = pick([null, {}, [null], [1]]);
      else if (field === 'kind') h.kind = pick(['model', 'zip', 7]);
      else if (e && field === 'shape')
        e.shape = pick([[2 ** 20, 2 ** 20], [-1], [1.5], [], [0], ['a'], [2 ** 31, 2 ** 31, 4]]);
      else if (e && field === 'planeLengths') e.planeLengths = [pick(HOSTILE), 1, 2, 3];
      else if (e && field === 'planes') e.planes = pick([['raw'], ['zip', 'raw', 'raw', 'raw'], 'raw', null]);
      else if (e) e[field] = pick(HOSTILE);
      return { bytes: rebuild(file, h), structural: true, what: `header ${field} edited` };
    }
  }
}
