import { ArgumentError } from '../errors.js';

/**
 * Fills a Keras-style filepath template: `{epoch:02d}`, `{val_loss:.4f}`, `{batch}`, any log
 * key. Specs: `[0][width]d`, `.Nf`, `.Ne`, or none.
 */
export function formatTemplate(template: string, values: Record<string, number>): string {
  return template.replace(/\{(\w+)(?::([^}]*))?\}/g, (_m, key: string, spec: string | undefined) => {
    if (!(key in values)) throw new ArgumentError(`filepath template '${template}': '${key}' is not available (have: ${Object.keys(values).join(', ')})`);
    return formatNumber(values[key], spec ?? '', template);
  });
}

function formatNumber(v: number, spec: string, template: string): string {
  if (spec === '') return String(v);
  const fixed = /^\.(\d+)([fe])$/.exec(spec);
  if (fixed) return fixed[2] === 'f' ? v.toFixed(Number(fixed[1])) : v.toExponential(Number(fixed[1]));
  const int = /^(0?)(\d*)d$/.exec(spec);
  if (int) return String(Math.trunc(v)).padStart(Number(int[2] || 0), int[1] ? '0' : ' ');
  throw new ArgumentError(`filepath template '${template}': unsupported format spec ':${spec}' (use d, 0Nd, .Nf or .Ne)`);
}

/** The keys a template refers to. */
export function templateKeys(template: string): string[] {
  return [...template.matchAll(/\{(\w+)(?::[^}]*)?\}/g)].map((m) => m[1]);
}
