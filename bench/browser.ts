/**
 * `npm run bench -- browser`: Waypoint in Debian's Chromium beside Node on this machine. The
 * MNIST MLP epoch (784-128-10, Adam, batch 32) in a page and in Node, alternating rounds, with
 * and without a backup every epoch (IndexedDB in the page, the file system in Node): medians
 * and ratios. Also the minified, gzipped size of a page bundle that imports Sequential, Dense,
 * Adam and BackupAndRestore.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import * as node from '../src/node/index.js';
import { haveChromium, launchTestBrowser } from '../harness/browser.js';
import { mnistMlpEpochs } from '../harness/page-run.js';
import { median, table } from './common.js';

const quick = process.argv.includes('--quick');

async function bundleSize(): Promise<{ minified: number; gzip: number }> {
  const result = await build({
    stdin: {
      contents: "export { Sequential, Dense, Adam, BackupAndRestore } from './src/browser/index.ts';",
      resolveDir: join(import.meta.dirname, '..'),
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.length, gzip: gzipSync(code, { level: 9 }).length };
}

export async function run(): Promise<void> {
  const size = await bundleSize();
  console.log(
    `bundle of { Sequential, Dense, Adam, BackupAndRestore } for the browser: ${(size.minified / 1024).toFixed(0)} KiB minified, ${(size.gzip / 1024).toFixed(0)} KiB gzip`,
  );
  if (!haveChromium()) {
    console.log('Chromium is absent (/usr/bin/chromium): the page measurements are skipped');
    return;
  }
  const browser = await launchTestBrowser();
  const dir = mkdtempSync(join(tmpdir(), 'wpt-bench-browser-'));
  try {
    const page = await browser.open();
    const data = await node.loadMnist();
    const epochs = quick ? 2 : 3;
    const rounds = quick ? 1 : 3;
    const times: Record<string, number[]> = {
      node: [],
      'node + fs backup': [],
      chromium: [],
      'chromium + IndexedDB backup': [],
    };
    let detail = '';
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first: the machine is shared and drifts.
      const order = r % 2 === 0 ? ['node', 'chromium'] : ['chromium', 'node'];
      for (const engine of order) {
        for (const backup of [false, true]) {
          if (engine === 'node') {
            const s = await mnistMlpEpochs(
              node,
              data,
              epochs,
              backup ? { storage: node.fsStorage, dir: join(dir, `backup-${r}`) } : undefined,
            );
            times[backup ? 'node + fs backup' : 'node'].push(...s.slice(1)); // the first epoch warms up
          } else {
            const got = (await page.evaluate(
              `globalThis.waypointPage.mnistEpochs('/digits.idx.gz', ${epochs}, ${backup})`,
            )) as { seconds: number[]; backend: string };
            detail = got.backend;
            times[backup ? 'chromium + IndexedDB backup' : 'chromium'].push(...got.seconds.slice(1));
          }
        }
      }
    }
    const base = median(times.node);
    const rows = Object.entries(times).map(([name, s]) => [name, median(s), `${(median(s) / base).toFixed(2)}× node`]);
    console.log(
      `\nMNIST MLP epoch (8,000 samples), seconds, median of ${times.node.length} epochs after warm-up; page backend: ${detail}`,
    );
    console.log(table(['engine', 's/epoch', 'ratio'], rows));
    const overhead = (withBackup: number[], plain: number[]) =>
      `${(((median(withBackup) - median(plain)) / median(plain)) * 100).toFixed(1)} %`;
    console.log(
      `\nbackup every epoch, share of the epoch: IndexedDB in Chromium ${overhead(times['chromium + IndexedDB backup'], times.chromium)}, file system in Node ${overhead(times['node + fs backup'], times.node)}`,
    );
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
