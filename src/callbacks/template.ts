import { ArgumentError } from '../errors.js';

/**
 * Fills a Keras-style filepath template: `{epoch:02d}`, `{val_loss:.4f}`, `{batch}`, any log
 * key. Specs: `[0][width]d`, `.Nf`, `.Ne`, or none.
 */
export function formatTemplate(template: string, values: Record<string, number>): string {
  checkTemplate(template);
  return template.replace(/\{(\w+)(?::([^}]*))?\}/g, (_m, key: string, spec: string | undefined) => {
    if (!(key in values))
      throw new ArgumentError(
        `filepath template '${template}': '${key}' is not available (have: ${Object.keys(values).join(', ')})`,
      );
    return formatNumber(values[key], spec ?? '', template);
  });
}

function formatNumber(v: number, spec: string, template: string): string {
  if (spec === '') return String(v);
  const fixed = /^\.(\d+)([fe])$/.exec(spec);
  // Python writes at least two exponent digits (7.1313e-01), JavaScript one (7.1313e-1).
  if (fixed)
    return fixed[2] === 'f'
      ? v.toFixed(Number(fixed[1]))
      : v.toExponential(Number(fixed[1])).replace(/e([+-])(\d)$/, 'e$10$2');
  const int = /^(0?)(\d*)d$/.exec(spec);
  if (int) return String(Math.trunc(v)).padStart(Number(int[2] || 0), int[1] ? '0' : ' ');
  throw new ArgumentError(
    `filepath template '${template}': unsupported format spec ':${spec}' (use d, 0Nd, .Nf or .Ne)`,
  );
}

/** Refuses a brace that opens or closes no `{key}` or `{key:spec}` (an unterminated `{epoch`, a stray `}`), by position. */
export function checkTemplate(template: string): void {
  const blanked = template.replace(/\{\w+(?::[^{}]*)?\}/g, (m) => ' '.repeat(m.length));
  const at = blanked.search(/[{}]/);
  if (at >= 0) {
    throw new ArgumentError(
      `filepath template '${template}': ${blanked[at] === '{' ? 'unterminated or malformed' : 'unmatched'} '${blanked[at]}' at position ${at} ` +
        '(placeholders are {key} or {key:spec}, e.g. {epoch:02d})',
    );
  }
}

/** The keys a template refers to. */
export function templateKeys(template: string): string[] {
  checkTemplate(template);
  return [...template.matchAll(/\{(\w+)(?::[^}]*)?\}/g)].map((m) => m[1]);
}
