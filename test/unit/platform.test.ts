/**
 * The platform seam (src/platform.ts): the browser and portable entries' module graphs hold
 * no Node module and name no `process`, whatever a bundler keeps; the portable platform has
 * no default storage and says so; the progress bar's sinks render as a terminal would.
 */
import { describe, it, expect, vi } from 'vitest';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ProgressBar } from '../../src/node/index.js';
import { spawnSync } from 'node:child_process';

const root = join(import.meta.dirname, '..', '..');

describe('the module graph of each non-Node entry', () => {
  for (const entry of ['src/browser/index.ts', 'src/browser/gpu.ts', 'src/index.ts']) {
    it(`${entry}: no node: import, no src/node module, no reference to process (every module, no tree shaking)`, async () => {
      const result = await build({
        entryPoints: [join(root, entry)],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        write: false,
        minify: true,
        treeShaking: false,
        metafile: true,
        logLevel: 'silent',
        external: ['gpu.js/*'],
      });
      const inputs = Object.keys(result.metafile.inputs);
      expect(inputs.length).toBeGreaterThan(entry.endsWith('gpu.ts') ? 1 : 100);
      expect(inputs.filter((i) => i.startsWith('node:') || i.includes('src/node/'))).toEqual([]);
      // Minified: comments are gone, and messages may say "process"; code may not name it.
      expect(
        result.outputFiles[0].text.match(/.{0,40}\b(?:typeof process|process\??\.\w+|globalThis\.process)\b.{0,40}/g),
      ).toBeNull();
    }, 60_000);
  }
});

describe('the portable entry (no platform installed)', () => {
  it('has no default storage and says what to pass; no stdout, no signals, no pid', () => {
    // A process of its own: in this one the Node entry is installed.
    const script = `
      const wp = await import(${JSON.stringify(join(root, 'src/index.ts'))});
      const { platform } = await import(${JSON.stringify(join(root, 'src/platform.ts'))});
      const p = platform();
      console.log(JSON.stringify({ name: p.name, stdout: p.stdout === undefined, signals: p.signals === undefined, host: p.identity().host }));
      const model = new wp.Sequential([new wp.Dense({ units: 1, inputShape: [2] })]);
      await model.save('m.wpt').then(() => console.log('saved'), (e) => console.log(e.name + ': ' + e.message));
`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const [info, saved] = r.stdout.trim().split('\n');
    expect(JSON.parse(info), r.stderr).toEqual({ name: 'portable', stdout: true, signals: true, host: 'portable' });
    expect(saved).toMatch(
      /^CheckpointError: .*no storage was given and this platform has no default one: pass `storage` \(a MemoryStorage, IndexedDBStorage or OPFSStorage\)/,
    );
  }, 60_000);
});

describe('ProgressBar sinks', () => {
  const fitOnce = async (bar: ProgressBar) => {
    await bar.onEpochBegin(0);
    for (let b = 0; b < 3; b++) await bar.onBatchEnd(b, { loss: 1 / (b + 1) });
    await bar.onEpochEnd(0, { loss: 0.5 });
  };

  it("'console' logs one line per epoch, never a redraw", async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await fitOnce(new ProgressBar({ sink: 'console', epochs: 1, stepsPerEpoch: 3 }));
      expect(log.mock.calls.map((c) => c[0])).toEqual([
        expect.stringMatching(/^Epoch 1\/1 - [\d.]+s - loss: 0\.5000$/),
      ]);
    } finally {
      log.mockRestore();
    }
  });

  it('an element shows what a terminal would: the live line redrawn in place, then the epoch line', async () => {
    const element = { textContent: null as string | null };
    const seen: string[] = [];
    const bar = new ProgressBar({ sink: element, epochs: 1, stepsPerEpoch: 3 });
    await bar.onEpochBegin(0);
    for (let b = 0; b < 3; b++) {
      await bar.onBatchEnd(b, { loss: 1 });
      seen.push(element.textContent ?? '');
    }
    await bar.onEpochEnd(0, { loss: 0.5 });
    expect(seen[0]).toMatch(/^Epoch 1\/1\n1\/3 \[=+>?\.*\] - ETA: [\d.]+s - loss: 1\.0000$/);
    expect(element.textContent).toMatch(/^Epoch 1\/1\n3\/3 - [\d.]+s - loss: 0\.5000\n$/);
    expect(element.textContent).not.toMatch(/\r|\x1b/);
  });

  it('a function gets the text, one line per epoch', async () => {
    const parts: string[] = [];
    await fitOnce(new ProgressBar({ sink: (t) => parts.push(t), epochs: 1, stepsPerEpoch: 3 }));
    expect(parts.join('')).toMatch(/^Epoch 1\/1 - [\d.]+s - loss: 0\.5000\n$/);
  });
});
