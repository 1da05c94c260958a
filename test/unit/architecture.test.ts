import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALLOWED, ALLOWED_CIRCLES, circles, violations } from '../../scripts/architecture.js';

describe('the folder graph (docs/ARCHITECTURE.md)', () => {
  it('every import follows it: no cycle, and the engine imports nothing from checkpoint', () => {
    expect(violations()).toEqual([]);
    for (const engine of ['src/tensor', 'src/nn', 'src/optim', 'src/backend', 'kernels'])
      expect(ALLOWED[engine]).not.toContain('src/checkpoint');
  });

  it('the allowed imports themselves form no cycle', () => {
    const visiting = new Set<string>(),
      done = new Set<string>();
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

describe('docs/ARCHITECTURE.md', () => {
  it("has a row for every folder of the checker's table, naming exactly the folders it may import", () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'ARCHITECTURE.md'), 'utf8');
    const rows = new Map([...doc.matchAll(/^\| `([^`]+)` \| .* \| ([^|]*) \|$/gm)].map((m) => [m[1], m[2]]));
    const named = (column: string) =>
      column
        .replace(/\([^)]*\)/g, '')
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n && n !== 'nothing')
        .map((n) => (n === 'kernels' ? n : `src/${n}`))
        .sort();
    for (const [folder, allowed] of Object.entries(ALLOWED).filter(([f]) => f.startsWith('src/') || f === 'kernels')) {
      expect(rows.has(folder), `no row for ${folder}`).toBe(true);
      expect(named(rows.get(folder)!), folder).toEqual([...allowed].sort());
    }
    expect([...rows.keys()].filter((f) => !(f in ALLOWED))).toEqual([]);
  });
});

describe('README.md', () => {
  it('states the line budgets npm run size enforces', async () => {
    const { CORE_BUDGET, CHECKPOINT_BUDGET } = await import('../../scripts/size.js');
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const stated =
      /line budgets: ([\d,]+) for the core \(`src\/tensor` \+ `kernels`\), ([\d,]+) for `src\/checkpoint`/.exec(readme);
    expect(stated, 'the budget sentence').not.toBeNull();
    expect([Number(stated![1].replace(',', '')), Number(stated![2].replace(',', ''))]).toEqual([
      CORE_BUDGET,
      CHECKPOINT_BUDGET,
    ]);
  });

  it('lists every folder of the package in its Layout block', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const layout = /## Layout\n\n```\n([\s\S]*?)```/.exec(readme)![1];
    const top = Object.keys(ALLOWED).filter((f) => f.startsWith('src/') && f.split('/').length === 2);
    for (const folder of top) expect(layout, folder).toMatch(new RegExp(`(^|\\s)${folder}\\s`));
  });
});
