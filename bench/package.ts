/**
 * `npm run bench -- package`: what a CPU-only consumer pays to install Waypoint. Packs a copy
 * of the tree (prepack builds dist/), then installs the tarball into new projects, timed
 * (median of 3; npm's cache is warm after the first, as on a developer's machine), and sizes
 * node_modules. `--with-gpu` also installs gpu.js beside it (the optional peer: compiles `gl`).
 */
import { execSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, table } from './common.js';

const root = join(import.meta.dirname, '..');

function diskBytes(dir: string): number {
  return readdirSync(dir).reduce((n, name) => {
    const st = statSync(join(dir, name));
    return n + (st.isDirectory() ? diskBytes(join(dir, name)) : st.size);
  }, 0);
}

function install(work: string, name: string, specs: string[]): { seconds: number; bytes: number; packages: number } {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', private: true }));
  const start = performance.now();
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', ...specs], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm install failed: ${r.stderr}`);
  const seconds = (performance.now() - start) / 1000;
  const modules = join(dir, 'node_modules');
  const packages = readdirSync(modules)
    .filter((n) => !n.startsWith('.'))
    .flatMap((n) => (n.startsWith('@') ? readdirSync(join(modules, n)) : [n])).length;
  return { seconds, bytes: diskBytes(modules), packages };
}

export async function run(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'wpt-bench-package-'));
  try {
    const copy = join(work, 'tree');
    mkdirSync(copy);
    execSync(`git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t ${copy}`, { cwd: root });
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
    const out = execSync(`npm pack --json --ignore-scripts=false --pack-destination ${work}`, {
      cwd: copy,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const packed = (
      JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; size: number; unpackedSize: number }>
    )[0];
    const tarball = join(work, packed.filename);
    console.log(
      `tarball: ${(packed.size / 1e6).toFixed(2)} MB (${(packed.unpackedSize / 1e6).toFixed(2)} MB unpacked)`,
    );
    const runs = [0, 1, 2].map((i) => install(work, `cpu-${i}`, [tarball]));
    const rows: Array<Array<string | number>> = [
      ['cpu only', median(runs.map((r) => r.seconds)), (runs[0].bytes / 1e6).toFixed(2), String(runs[0].packages)],
    ];
    if (process.argv.includes('--with-gpu')) {
      const gpu = install(work, 'with-gpu', [tarball, 'gpu.js']);
      rows.push(['with gpu.js (the optional peer)', gpu.seconds, (gpu.bytes / 1e6).toFixed(1), String(gpu.packages)]);
    }
    console.log(`\nnpm install of the tarball in a new project (seconds: median of ${runs.length}):`);
    console.log(table(['install', 'seconds', 'MB on disk', 'packages'], rows));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
