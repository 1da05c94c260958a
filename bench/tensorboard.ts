/**
 * What TensorBoard logging costs a training run: MNIST MLP epochs (784-128-10, Adam, batch
 * 32) with no logging, with TensorBoard({ updateFreq: 'epoch' }) and with updateFreq: 10,
 * alternating, medians. "Blocked" is the time the training loop waits inside the callback's
 * hooks (opening the files, event encoding, writes, the fsync at train end), per epoch.
 * `npm run bench -- tensorboard [--quick]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TensorBoard, loadMnist } from '../src/node/index.js';
import { TimedCallback, median, table } from './common.js';
import { mnistMlp } from './fixtures.js';

const quick = process.argv.includes('--quick');
const REPEATS = quick ? 2 : 7;
const EPOCHS = 3;

export async function run(): Promise<void> {
  const { xTrain, yTrain, xTest, yTest } = await loadMnist({ shape: 'flat' });
  const dir = mkdtempSync(join(tmpdir(), 'wpt-tb-bench-'));
  const configs: Array<{ name: string; updateFreq?: 'epoch' | number }> = [
    { name: 'no logging' },
    { name: "updateFreq: 'epoch'", updateFreq: 'epoch' },
    { name: 'updateFreq: 10', updateFreq: 10 },
  ];
  const results = new Map<string, { seconds: number[]; blocked: number[] }>();
  try {
    for (let r = 0; r < REPEATS; r++) {
      for (const c of [...configs.slice(r % configs.length), ...configs.slice(0, r % configs.length)]) {
        const model = mnistMlp();
        const timed =
          c.updateFreq === undefined
            ? null
            : new TimedCallback(
                new TensorBoard({ logDir: join(dir, `${r}-${c.name.replace(/\W/g, '')}`), updateFreq: c.updateFreq }),
              );
        const t = performance.now();
        await model.fit(xTrain, yTrain, {
          epochs: EPOCHS,
          batchSize: 32,
          verbose: 0,
          validationData: [xTest, yTest],
          callbacks: timed ? [timed] : [],
        });
        const entry = results.get(c.name) ?? { seconds: [], blocked: [] };
        entry.seconds.push((performance.now() - t) / 1000 / EPOCHS);
        entry.blocked.push((timed?.blockedMs ?? 0) / EPOCHS);
        results.set(c.name, entry);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const base = median(results.get('no logging')!.seconds);
  console.log(
    `MNIST MLP, ${EPOCHS}-epoch fits of 250 batches an epoch with validation, per epoch, median of ${REPEATS} fits (alternating)`,
  );
  console.log(
    table(
      ['logging', 'epoch s', 'wall vs none (noisy)', 'ms blocked per epoch', 'blocked / epoch time'],
      configs.map((c) => {
        const e = results.get(c.name)!;
        const s = median(e.seconds),
          blocked = median(e.blocked);
        return [
          c.name,
          s,
          `${(((s - base) / base) * 100).toFixed(1)}%`,
          c.updateFreq === undefined ? 'n/a' : blocked,
          `${((blocked / 1000 / s) * 100).toFixed(2)}%`,
        ];
      }),
    ),
  );
  console.log(
    'blocked = time the training loop waits inside the TensorBoard callback (opening its files, encoding, writes; the fsync at train end), per epoch; targets: under 1 % (epoch) and 3 % (every 10 batches)',
  );
}
