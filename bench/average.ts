/**
 * Checkpoint averaging's throughput and memory: five model files of a 41 MB model (four
 * Dense 1600×1600 layers) on the file system, averaged; the peak RSS during the average
 * (VmHWM, reset before it) beyond the RSS before it, beside the model's and one entry's
 * size. Linux only (/proc). `npm run bench -- average [--quick]`
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dense, Random, Sequential, averageCheckpoints } from '../src/node/index.js';
import { table } from './common.js';

const quick = process.argv.includes('--quick');
const MiB = 2 ** 20;

const statusKb = (field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))![1]);

export async function run(): Promise<void> {
  const files = quick ? 3 : 5;
  const dir = mkdtempSync(join(tmpdir(), 'wpt-average-'));
  try {
    const paths: string[] = [];
    const rng = new Random(1);
    for (let f = 0; f < files; f++) {
      const model = new Sequential(
        [1, 2, 3, 4].map((i) => new Dense({ units: 1600, ...(i === 1 ? { inputShape: [1600] } : {}) })),
        { seed: f },
      );
      model.compile({ optimizer: 'sgd', loss: 'mse' });
      for (const w of model.getWeights()) rng.fillNormal(w.data, 0, 0.05);
      paths.push(join(dir, `${f}.wpt`));
      await model.save(paths.at(-1)!);
    }
    global.gc?.();
    const bytes = paths.reduce((n, p) => n + statSync(p).size, 0);
    const before = statusKb('VmRSS');
    writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
    const t = performance.now();
    const averaged = await averageCheckpoints(paths);
    const seconds = (performance.now() - t) / 1000;
    const peak = statusKb('VmHWM');
    const model = (averaged.countParams() * 4) / MiB,
      entry = (1600 * 1600 * 4) / MiB;
    console.log(
      `\nAveraging ${files} model files of ${model.toFixed(1)} MiB (${(bytes / MiB).toFixed(0)} MiB read), one run`,
    );
    console.log(
      table(
        ['seconds', 'MB/s of files', 'peak RSS beyond before, MiB', 'the model, MiB', 'largest entry, MiB'],
        [[seconds, bytes / 1e6 / seconds, (peak - before) / 1024, model, entry]],
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
