/**
 * The POSIX tar (ustar) framing of run archives: 512-byte headers, data padded to 512 bytes,
 * two zero blocks at the end. Names up to 255 bytes (split between `prefix` and `name`);
 * sizes past ustar's 8 GiB in GNU's base-256 form. Any tar reads the archives back.
 */
export const BLOCK = 512;

const encoder = new TextEncoder();

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** A header for a regular file `name` of `size` bytes. */
export function fileHeader(name: string, size: number, mtimeSeconds: number): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const bytes = encoder.encode(name);
  let [prefix, rest] = [new Uint8Array(0), bytes];
  if (bytes.length > 100) {
    // Split at a '/' so that the name part fits 100 bytes and the prefix 155.
    const cut = name.lastIndexOf('/', name.length - 1);
    const head = encoder.encode(name.slice(0, cut));
    rest = encoder.encode(name.slice(cut + 1));
    if (cut < 0 || head.length > 155 || rest.length > 100) throw new Error(`the path '${name}' is too long for a run archive (255 bytes)`);
    prefix = head;
  }
  block.set(rest, 0);
  const put = (text: string, at: number) => block.set(encoder.encode(text), at);
  put(octal(0o644, 8), 100);
  put(octal(0, 8), 108);
  put(octal(0, 8), 116);
  if (size < 8 * 1024 ** 3) put(octal(size, 12), 124);
  else {
    // GNU base-256: the high bit of the first byte, then the size big-endian.
    block[124] = 0x80;
    for (let i = 135, v = size; i > 124; i--, v = Math.floor(v / 256)) block[i] = v % 256;
  }
  put(octal(Math.floor(mtimeSeconds), 12), 136);
  put('0', 156);
  put('ustar\0', 257);
  put('00', 263);
  block.set(prefix, 345);
  block.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  const sum = block.reduce((n, b) => n + b, 0);
  put(octal(sum, 7) + ' ', 148);
  return block;
}

export interface TarEntry {
  name: string;
  size: number;
  /** Where the header starts. */
  headerAt: number;
  /** Where the data starts. */
  dataAt: number;
}

/** Parses the header at `at`: the entry, null for the end (a zero block), or a reason it is no header. */
export function parseHeader(block: Uint8Array, at: number): TarEntry | null | string {
  if (block.every((b) => b === 0)) return null;
  const text = (from: number, length: number) => {
    const part = block.subarray(from, from + length);
    const end = part.indexOf(0);
    return new TextDecoder().decode(end < 0 ? part : part.subarray(0, end));
  };
  const stored = parseInt(text(148, 8).trim(), 8);
  const copy = block.slice();
  copy.fill(0x20, 148, 156);
  if (copy.reduce((n, b) => n + b, 0) !== stored) return 'its header checksum does not match';
  const type = text(156, 1);
  if (type !== '0' && type !== '') return `it is not a regular file (type '${type}')`;
  let size: number;
  if (block[124] & 0x80) {
    size = 0;
    for (let i = 125; i < 136; i++) size = size * 256 + block[i];
  } else size = parseInt(text(124, 12).trim() || '0', 8);
  const prefix = text(257, 6) === 'ustar' ? text(345, 155) : '';
  const name = prefix ? `${prefix}/${text(0, 100)}` : text(0, 100);
  return { name, size, headerAt: at, dataAt: at + BLOCK };
}

/** Zero bytes that pad `size` bytes of data to a whole block. */
export const padding = (size: number): Uint8Array => new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
