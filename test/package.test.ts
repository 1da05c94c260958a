/**
 * What `npm pack` ships (issue 18's package findings): the compiled dist/ (built by prepack),
 * the bin, LICENSE, README and docs, source maps that carry their sources, and no tests. Packed
 * from a copy of the tree, so that building dist/ cannot disturb the CLI tests running beside.
 */
import { describe, it, expect } from 'vitest';
import { execSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

describe('npm pack', () => {
  it('ships dist/ with its types, the bin, LICENSE, README and docs, maps with their sources, and no tests', () => {
    const copy = mkdtempSync(join(tmpdir(), 'wpt-pack-'));
    try {
      execSync(`git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t ${copy}`, { cwd: root });
      symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
      const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts=false'], { cwd: copy, encoding: 'utf8', timeout: 240_000 });
      expect(pack.status, pack.stderr).toBe(0);
      const files = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path);
      for (const f of ['LICENSE', 'README.md', 'bin/waypoint.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/interop/onnx.js', 'dist/src/tensorboard/writer.js', 'docs/FORMAT.md', 'docs/INTEROP.md']) {
        expect(files, f).toContain(f);
      }
      expect(files.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.startsWith('bench/'))).toEqual([]);
      const map = JSON.parse(readFileSync(join(copy, 'dist', 'src', 'index.js.map'), 'utf8')) as { sourcesContent?: string[] };
      expect(map.sourcesContent?.[0]).toMatch(/export/); // the map carries the source it points at
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string }; license: string };
      expect(pkg.engines.node).toBe('>=20.16'); // process.getBuiltinModule
      expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(new RegExp(`^${pkg.license} License`));
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }, 300_000);
});
