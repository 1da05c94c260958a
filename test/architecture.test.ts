import { describe, it, expect } from 'vitest';
import { ALLOWED, ALLOWED_CIRCLES, circles, violations } from '../scripts/architecture.js';

describe('the folder graph (docs/ARCHITECTURE.md)', () => {
  it('every import follows it: no cycle, and the engine imports nothing from checkpoint', () => {
    expect(violations()).toEqual([]);
    for (const engine of ['src/tensor', 'src/nn', 'src/optim', 'src/backend', 'kernels']) expect(ALLOWED[engine]).not.toContain('src/checkpoint');
  });

  it('the allowed imports themselves form no cycle', () => {
    const visiting = new Set<string>(), done = new Set<string>();
    const visit = (f: string): void => {
      if (done.has(f)) return;
      expect(visiting.has(f), `cycle through ${f}`).toBe(false);
      visiting.add(f);
      for (const g of ALLOWED[f]) visit(g);
      visiting.delete(f);
      done.add(f);
    };
    Object.keys(ALLOWED).forEach(visit);
  });

  it('no two files import each other by value, around any circle, but the tensor method sugar', () => {
    expect(circles()).toEqual([]);
    expect(ALLOWED_CIRCLES.flat().every((f) => f.startsWith('src/tensor/'))).toBe(true);
  });
});
