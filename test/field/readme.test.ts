/**
 * Every TypeScript block of README.md, run as a user would paste it: extracted, its
 * `'waypoint'` import pointed at the sources, in a fresh directory (Node), or bundled for the
 * browser and run in Chromium. Where a snippet uses names the README leaves to its reader
 * (`model`, `x`, `y`), a small prelude defines them. The custom loop is also killed with
 * SIGKILL and resumed, and must end bit-identical to an uninterrupted run.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { WptReader } from '../../src/node/index.js';
import { latestCheckpoint } from '../../src/checkpoint/manifest.js';
import { haveChromium, runPage } from '../../harness/browser.js';

const root = join(import.meta.dirname, '..', '..');
/** tsx's loader, by path: the snippets run in directories with no node_modules. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]);
const find = (marker: string) => {
  const found = blocks.filter((b) => b.includes(marker));
  if (found.length !== 1) throw new Error(`README: ${found.length} TypeScript blocks contain ${marker}`);
  return found[0];
};

/** Names a snippet uses without defining: a small model and its data. */
const MODEL_PRELUDE = `import { Sequential as Seq_, Dense as Dense_, Adam as Adam_, Random as Random_, randn as randn_, oneHot as oneHot_ } from 'waypoint';
const model = new Seq_([new Dense_({ units: 8, activation: 'relu', inputShape: [4] }), new Dense_({ units: 3, activation: 'softmax' })], { seed: 1 });
model.compile({ optimizer: new Adam_({ learningRate: 0.01 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
const rng_ = new Random_(3);
const x = randn_([64, 4], rng_);
const y = oneHot_(Array.from({ length: 64 }, (_, i) => i % 3), 3);
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wpt-readme-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a snippet, after its prelude, as an ES module importing the sources (imports hoisted); returns its path. */
function nodeModule(name: string, code: string, prelude = ''): string {
  const importOf = /^import [\s\S]*? from 'waypoint';$/gm;
  const text = `${prelude}\n${code}`;
  const imports = [...text.matchAll(importOf)].map((m) =>
    m[0].replace("'waypoint'", JSON.stringify(join(root, 'src/node/index.ts'))),
  );
  const file = join(dir, `${name}.mts`);
  writeFileSync(file, [...imports, text.replace(importOf, '')].join('\n'));
  return file;
}

function run(
  file: string,
  cwd: string,
  killAfterMs?: number,
): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, file], {
      cwd,
      env: { ...process.env, WAYPOINT_BACKEND: 'cpu' },
    });
    let out = '',
      err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    if (killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code, signal) => resolve({ code, signal, out, err }));
  });
}

const fresh = (name: string) => mkdtempSync(join(dir, `${name}-`));

/** The model entries of the newest checkpoint in `runDir`, as bits. */
async function finalWeights(runDir: string): Promise<Record<string, number[]>> {
  const latest = await latestCheckpoint(runDir);
  const reader = await WptReader.open(latest!);
  try {
    const out: Record<string, number[]> = {};
    for (const e of reader.entries.filter((e) => e.dtype !== 'json')) {
      const t = (await reader.read(e.key)) as { data: Float32Array };
      out[e.key] = Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length));
    }
    return out;
  } finally {
    await reader.close();
  }
}

// The Storage contract snippet declares vitest tests: it is imported here, at collection, with a
// MyStorage of its own (a MemoryStorage), and its tests run as this file's.
const contractSnippet = join(mkdtempSync(join(tmpdir(), 'wpt-readme-contract-')), 'contract.mts');
writeFileSync(
  contractSnippet,
  `import { MemoryStorage } from ${JSON.stringify(join(root, 'src/node/index.ts'))};\nclass MyStorage extends MemoryStorage {}\n` +
    find("storageContract('MyStorage'").replace(
      "'waypoint/testing'",
      JSON.stringify(join(root, 'src/testing/index.ts')),
    ),
);
await import(contractSnippet);

const chromium = haveChromium() || process.env.WAYPOINT_EXPECT_CHROMIUM === '1';
if (!chromium) console.log('SKIPPED: the README page snippet in Chromium: no Chromium at /usr/bin/chromium');

describe('README.md, block by block', () => {
  it('has the blocks this test knows how to run, and no other', () => {
    expect(blocks.length).toBe(10);
  });

  it('the tour: MNIST with every callback, then loadModel and a continued fit, as written', async () => {
    const cwd = fresh('tour');
    const r = await run(nodeModule('tour', find("loadMnist({ shape: 'image' })")), cwd);
    expect(r.err).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(existsSync(join(cwd, 'run', 'last.wpt'))).toBe(true);
    expect(readFileSync(join(cwd, 'run', 'log.csv'), 'utf8').split('\n')[0]).toBe(
      'epoch,accuracy,loss,val_accuracy,val_loss',
    );
  }, 240_000);

  it('the custom loop runs, and killed with SIGKILL at any moment it resumes to the same bits', async () => {
    const file = nodeModule('loop', find('new CheckpointManager(ckpt,'));
    const straight = fresh('loop-straight');
    const whole = await run(file, straight);
    expect(whole.err).toBe('');
    expect(whole.code).toBe(0);
    const reference = await finalWeights(join(straight, 'loop-run'));
    expect(Object.keys(reference).some((k) => k.startsWith('optimizer/m/'))).toBe(true);
    let compared = 0;
    for (const killAfterMs of [700, 1000, 1300]) {
      const cwd = fresh('loop-killed');
      const killed = await run(file, cwd, killAfterMs);
      const resumed = await run(file, cwd);
      expect(resumed.err.replace(/^waypoint: taking over the stale lock .*\n/m, '')).toBe(''); // the killed run's lock
      expect(resumed.code).toBe(0);
      if (killed.signal !== 'SIGKILL') continue; // finished before the kill: nothing to resume
      expect(await finalWeights(join(cwd, 'loop-run'))).toEqual(reference);
      compared++;
    }
    expect(compared).toBeGreaterThan(0);
  }, 120_000);

  it('a CSV in five lines: streamed, trained with backups, the backup gone at the end', async () => {
    const cwd = fresh('csv');
    const lines = ['f0,f1,f2,f3,f4,label'];
    for (let i = 0; i < 500; i++) {
      const f = [0, 1, 2, 3, 4].map((k) => Math.sin(i * (k + 1)).toFixed(4));
      lines.push(`${f.join(',')},${Number(f[0]) + Number(f[1]) > 0 ? 1 : 0}`);
    }
    writeFileSync(join(cwd, 'rows.csv'), lines.join('\n') + '\n');
    const code = `${find("data.csv('rows.csv'")}\nif (model.history.history.loss.length !== 5) throw new Error('not 5 epochs');\n`;
    const r = await run(nodeModule('csv', code), cwd);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(join(cwd, 'run', 'backup', 'manifest.json'))).toBe(false);
  }, 60_000);

  it('a generator as a dataset, with validation on part of it', async () => {
    const code = `${find('data.generator(function* ()')}\nif (!(net.history.history.val_loss?.length === 3)) throw new Error('no validation');\n`;
    const r = await run(nodeModule('generator', code), fresh('generator'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  }, 60_000);

  it('a functional model of two inputs and two heads: trained with backups, saved, loaded, predicting the same', async () => {
    const code = `${find('new Model({ inputs: [features, category]')}
const ours = model.predictAll(x);
if (ours.some((t, i) => t.data.some((v, k) => v !== [probabilities, prices][i].data[k]))) throw new Error('loaded model predicts otherwise');
if (!history.history.val_kind_accuracy || history.history.price_loss.length !== 3) throw new Error('missing history keys');
`;
    const cwd = fresh('functional');
    const r = await run(nodeModule('functional', code), cwd);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Connected to/);
    expect(existsSync(join(cwd, 'tabular', 'backup', 'manifest.json'))).toBe(false); // a finished fit removes its backup
  }, 60_000);

  it('interruptOnSignals around a fit', async () => {
    const cwd = fresh('signals');
    const r = await run(nodeModule('signals', find('interruptOnSignals(model)'), MODEL_PRELUDE), cwd);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  }, 60_000);

  it('a custom layer holding library layers: it trains and saves them', async () => {
    const code = `${find("registerLayer('Residual', Residual)")}
model.compile({ optimizer: 'adam', loss: 'mse' });
const before = model.layers[1].getWeights().map((w) => Array.from(w.data).join());
const { randn: rn, Random: R, loadModel: lm } = await import(${JSON.stringify(join(root, 'src/node/index.ts'))});
const r = new R(1);
await model.fit(rn([32, 8], r), rn([32, 1], r), { epochs: 2, verbose: 0 });
if (model.layers[1].getWeights().some((w, i) => Array.from(w.data).join() === before[i])) throw new Error('a nested weight did not train');
await model.save('residual.wpt');
const again = await lm('residual.wpt');
if (again.layers[1].getWeights().map((w) => Array.from(w.data).join()).join() !== model.layers[1].getWeights().map((w) => Array.from(w.data).join()).join()) throw new Error('nested weights not saved');
`;
    const r = await run(nodeModule('residual', code), fresh('residual'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  it('the engine: tensors, ops and backward', async () => {
    const code = `${find('randn([784, 128], rng, true)')}\nif (!w.grad || w.grad.shape.join() !== '784,128') throw new Error('no gradient of shape [784,128]');\n`;
    const r = await run(nodeModule('engine', code), fresh('engine'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  // Skipped only where no Chromium is expected: CI sets WAYPOINT_EXPECT_CHROMIUM=1, and then a missing one fails.
  it.skipIf(!chromium)(
    'in a browser: BackupAndRestore over IndexedDB and a ProgressBar into a <pre>, in Chromium',
    async () => {
      const code = find('new IndexedDBStorage()');
      const out = fresh('browser');
      const entry = join(out, 'entry.ts');
      const browserEntry = JSON.stringify(join(root, 'src/browser/index.ts'));
      writeFileSync(
        entry,
        `${MODEL_PRELUDE}\n${code}\n(globalThis as any).readmeDone = model.currentEpoch;\n`.replaceAll(
          "'waypoint'",
          browserEntry,
        ),
      );
      await build({
        entryPoints: [entry],
        bundle: true,
        format: 'esm',
        platform: 'browser',
        outfile: join(out, 'page.js'),
        logLevel: 'silent',
        external: ['gpu.js'],
      });
      const html = '<!doctype html><pre></pre><script type="module" src="/page.js"></script>';
      const { value, errors, pre } = await runPage(
        (req, res) => {
          if (req.url === '/page.js')
            res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(join(out, 'page.js')));
          else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
        },
        '',
        'readmeDone',
      );
      expect(errors).toEqual([]);
      expect(value).toBe(5);
      expect(pre).toMatch(/Epoch 5\/5/);
    },
    120_000,
  );
});
