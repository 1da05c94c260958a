/**
 * `npm run bench -- browser-storage [--mb N] [--entry-mb N] [--rounds N] [--codec raw|shuffle-deflate]`:
 * a checkpoint of N MB (default 100, in 16 MB entries) saved and restored in Debian's Chromium
 * through IndexedDBStorage and OPFSStorage, beside Node's file system in the same run: MB/s
 * (medians, storages alternating), and the page's peak extra JavaScript memory (V8's heap and
 * ArrayBuffer backing stores, harness/page-heap.ts) as a share of the checkpoint's size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as node from '../src/node/index.js';
import { haveChromium, launchTestBrowser } from '../harness/browser.js';
import { measurePageHeap } from '../harness/page-heap.js';
import { median, table } from './common.js';

const flag = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};

export async function run(): Promise<void> {
  const megabytes = Number(flag('mb', '100'));
  const entryMegabytes = Number(flag('entry-mb', '16'));
  const rounds = Number(flag('rounds', '3'));
  const codec = flag('codec', 'raw') as 'raw' | 'shuffle-deflate';
  if (!haveChromium()) {
    console.log('Chromium is absent (/usr/bin/chromium): skipped');
    return;
  }
  const browser = await launchTestBrowser();
  const dir = mkdtempSync(join(tmpdir(), 'wpt-bench-bstorage-'));
  const rates: Record<string, { save: number[]; load: number[] }> = {};
  const heap: Record<string, { save: number; load: number }> = {};
  const add = (name: string, save: number, load: number) => {
    rates[name] ??= { save: [], load: [] };
    rates[name].save.push(megabytes / (save / 1000));
    rates[name].load.push(megabytes / (load / 1000));
  };
  try {
    const page = await browser.open();
    await page.evaluate('globalThis.waypointPage.clear()');
    const tensors: Record<string, node.Tensor> = {};
    for (let i = 0; i < megabytes / entryMegabytes; i++) {
      const n = (entryMegabytes << 20) / 4;
      tensors[`w${i}`] = new node.Tensor(
        new Float32Array(n).map((_, j) => (j * 7919 + i) % 1000003),
        [n],
      );
    }
    const inNode = new node.Checkpoint(tensors);
    for (let r = 0; r < rounds; r++) {
      const kinds = r % 2 === 0 ? ['node', 'idb', 'opfs'] : ['opfs', 'idb', 'node'];
      for (const kind of kinds) {
        if (kind === 'node') {
          const path = join(dir, 'state.wpt');
          let start = performance.now();
          await inNode.write(path, { codec });
          const save = performance.now() - start;
          start = performance.now();
          await inNode.read(path);
          add('Node fs', save, performance.now() - start);
          continue;
        }
        await page.evaluate(`globalThis.waypointPage.bigState(${megabytes}, ${entryMegabytes})`);
        const saved = await measurePageHeap(
          page,
          () => page.evaluate(`globalThis.waypointPage.bigSave('${kind}', '${codec}')`) as Promise<{ ms: number }>,
        );
        const loaded = await measurePageHeap(
          page,
          () => page.evaluate(`globalThis.waypointPage.bigLoad('${kind}')`) as Promise<{ ms: number; intact: boolean }>,
        );
        if (!loaded.result.intact) throw new Error(`${kind}: the restored values differ`);
        await page.evaluate(`globalThis.waypointPage.bigDrop('${kind}')`);
        const name = kind === 'idb' ? 'IndexedDB' : 'OPFS';
        add(name, saved.result.ms, loaded.result.ms);
        const share = (h: { baseline: number; peak: number }) => (h.peak - h.baseline) / (megabytes << 20);
        heap[name] = {
          save: Math.max(heap[name]?.save ?? 0, share(saved)),
          load: Math.max(heap[name]?.load ?? 0, share(loaded)),
        };
      }
    }
    const base = rates['Node fs'];
    console.log(
      `\n${megabytes} MB checkpoint in ${entryMegabytes} MB entries, codec ${codec}: MB/s, median of ${rounds} (storages alternating); page heap: peak extra ÷ checkpoint size, largest of the rounds`,
    );
    console.log(
      table(
        ['storage', 'save MB/s', 'load MB/s', 'save ÷ Node', 'load ÷ Node', 'heap save', 'heap load'],
        Object.entries(rates).map(([name, r]) => [
          name,
          median(r.save).toFixed(0),
          median(r.load).toFixed(0),
          `${(median(r.save) / median(base.save)).toFixed(2)}×`,
          `${(median(r.load) / median(base.load)).toFixed(2)}×`,
          heap[name] ? heap[name].save.toFixed(3) : '-',
          heap[name] ? heap[name].load.toFixed(3) : '-',
        ]),
      ),
    );
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
