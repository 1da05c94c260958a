/**
 * POSIX path operations on Storage paths, which are '/'-separated in Node and in browsers
 * alike: join, dirname, basename, relative and normalize as `node:path`'s posix half gives
 * them (test/unit/paths.test.ts checks them against it), without importing a Node module, so
 * everything below the CLI can run in a page.
 */
export const sep = '/';

/** Resolves '.' and '..' segments and repeated slashes; '' becomes '.'. */
export function normalize(path: string): string {
  if (path === '') return '.';
  const absolute = path.startsWith('/');
  const trailing = path.endsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
    } else out.push(part);
  }
  const body = out.join('/');
  if (absolute) return `/${body}${trailing && body ? '/' : ''}`;
  return body === '' ? (trailing ? './' : '.') : `${body}${trailing ? '/' : ''}`;
}

export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== '').join('/');
  return joined === '' ? '.' : normalize(joined);
}

/** As node:path's posix dirname: trailing slashes ignored, the last slash kept out, a leading '//' kept. */
export function dirname(path: string): string {
  if (path === '') return '.';
  const root = path[0] === '/';
  let end = -1;
  let matchedSlash = true;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path[i] === '/') {
      if (!matchedSlash) {
        end = i;
        break;
      }
    } else matchedSlash = false;
  }
  if (end === -1) return root ? '/' : '.';
  if (root && end === 1) return '//';
  return path.slice(0, end);
}

export function basename(path: string, ext?: string): string {
  let end = path.length;
  while (end > 1 && path[end - 1] === '/') end--;
  const base = path.slice(path.lastIndexOf('/', end - 1) + 1, end);
  return ext !== undefined && ext !== base && base.endsWith(ext) ? base.slice(0, base.length - ext.length) : base;
}

/** The path from `from` to `to`; both absolute or both relative to the same directory (Storage paths have no working directory). */
export function relative(from: string, to: string): string {
  const a = normalize(from)
    .split('/')
    .filter((p) => p !== '' && p !== '.');
  const b = normalize(to)
    .split('/')
    .filter((p) => p !== '' && p !== '.');
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common++;
  return [...a.slice(common).map(() => '..'), ...b.slice(common)].join('/');
}

/**
 * Whether `path`, read from a file (a manifest, a model.json), is relative and names something
 * inside the directory it is relative to: not absolute, no '..' that climbs out, not the
 * directory itself. Paths read from files are checked with this before any use.
 */
export function staysInside(path: unknown): path is string {
  if (typeof path !== 'string' || path === '' || path.includes('\0') || path.startsWith('/')) return false;
  const n = normalize(path);
  return n !== '.' && n !== '..' && !n.startsWith('../') && !n.endsWith('/');
}
