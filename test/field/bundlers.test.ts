/**
 * The package as a page's bundler sees it: the `npm pack` tarball installed into a project,
 * bundled by Vite and by esbuild, served on 127.0.0.1 and run in Debian's Chromium. The page
 * loads MNIST with no `url` and restores a checkpoint large enough for the load workers.
 * Vite copies the data file and the worker (the `new URL(..., import.meta.url)` pattern);
 * esbuild copies neither: loadMnist then says what to copy, finds the file once it is copied
 * beside the page, and loads decode on the calling thread.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, execSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { haveChromium, runPage } from '../../harness/browser.js';

const root = join(import.meta.dirname, '..', '..');
// Skipped only where no Chromium is expected: CI sets WAYPOINT_EXPECT_CHROMIUM=1, and then a missing one fails.
const available = haveChromium() || process.env.WAYPOINT_EXPECT_CHROMIUM === '1';
if (!available) console.log('SKIPPED: the bundler tests: no Chromium at /usr/bin/chromium');

/** The page: loadMnist() with no url, then a 4 MB checkpoint written and restored in memory. */
const MAIN = `import { loadMnist, Checkpoint, Tensor, MemoryStorage } from 'waypoint';
const report = {};
try {
  const { xTrain } = await loadMnist();
  report.mnist = xTrain.shape[0];
} catch (e) { report.mnistError = e.message; }
const storage = new MemoryStorage();
const big = new Float32Array(1 << 20).map((_, i) => Math.sin(i));
await new Checkpoint({ w: new Tensor(big, [1 << 20]) }).write('/c.wpt', { storage, codec: 'raw' });
const into = new Tensor(new Float32Array(1 << 20), [1 << 20]);
await new Checkpoint({ w: into }).read('/c.wpt', { storage });
report.restored = into.data.every((v, i) => v === big[i]);
globalThis.report = report;
`;

let work: string, consumer: string;
beforeAll(() => {
  if (!available) return;
  work = mkdtempSync(join(tmpdir(), 'wpt-bundlers-'));
  const tree = join(work, 'tree');
  mkdirSync(tree);
  execSync(`git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t ${tree}`, { cwd: root });
  symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: tree, encoding: 'utf8' });
  const tarball = join(work, (JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string }>)[0].filename);
  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }),
  );
  execFileSync('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: consumer });
  writeFileSync(join(consumer, 'main.js'), MAIN);
  writeFileSync(
    join(consumer, 'index.html'),
    '<!doctype html><title>app</title><script type="module" src="./main.js"></script>',
  );
}, 600_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs index.html from `dir` in Chromium; returns the page's report (see MAIN). */
async function runPageOf(dir: string): Promise<Record<string, unknown>> {
  const types: Record<string, string> = {
    '.js': 'text/javascript',
    '.html': 'text/html',
    '.gz': 'application/octet-stream',
  };
  const { value, errors } = await runPage(
    (req, res) => {
      const file = join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
      if (!file.startsWith(dir) || !existsSync(file) || extname(file) === '') res.writeHead(404).end('not found');
      else
        res
          .writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' })
          .end(readFileSync(file));
    },
    'index.html',
    'report',
  );
  expect(errors).toEqual([]);
  return value as Record<string, unknown>;
}

describe.skipIf(!available)('a page bundled from the installed package', () => {
  it('Vite: loadMnist() with no url and the load workers work as built, nothing copied by hand', async () => {
    const { build } = await import('vite');
    const outDir = join(work, 'vite-dist');
    await build({ root: consumer, logLevel: 'silent', build: { outDir, target: 'es2022' }, worker: { format: 'es' } });
    expect(readdirSync(join(outDir, 'assets')).some((f) => f.endsWith('.gz'))).toBe(true);
    expect(readdirSync(join(outDir, 'assets')).some((f) => f.startsWith('load-worker'))).toBe(true);
    expect(await runPageOf(outDir)).toEqual({ mnist: 8000, restored: true });
  }, 120_000);

  it('esbuild: loadMnist() says what to copy; copied beside the page it loads; loads decode without the worker file', async () => {
    const { build } = await import('esbuild');
    const outdir = join(work, 'esbuild-dist');
    await build({
      entryPoints: [join(consumer, 'main.js')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      outdir,
      logLevel: 'silent',
      absWorkingDir: consumer,
      external: ['gpu.js'],
    });
    copyFileSync(join(consumer, 'index.html'), join(outdir, 'index.html'));
    const before = await runPageOf(outdir);
    expect(before.restored).toBe(true); // no load-worker.js beside the bundle: the calling thread decodes
    expect(before.mnistError).toMatch(
      /Copy node_modules\/waypoint\/dist\/data\/mnist\/digits\.idx\.gz beside the page \(Vite: into public\/; esbuild: into the output directory\), or pass \{ url \}/,
    );
    copyFileSync(join(consumer, 'node_modules/waypoint/dist/data/mnist/digits.idx.gz'), join(outdir, 'digits.idx.gz'));
    expect(await runPageOf(outdir)).toEqual({ mnist: 8000, restored: true });
  }, 120_000);
});
