/**
 * What checkpointing costs a training run: MNIST MLP (784-128-10, Adam, batch 32) with a
 * backup every epoch or every 50 batches, written synchronously or in the background,
 * against no checkpointing, in the same run (medians of repeated runs).
 * `npm run bench -- overhead [--quick]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupAndRestore, loadMnist } from '../src/node/index.js';
import { TimedCallback, median, table } from './common.js';
import { mnistMlp } from './fixtures.js';

const quick = process.argv.includes('--quick');
const EPOCHS = quick ? 1 : 3;
const REPEATS = quick ? 1 : 5;

export async function run(): Promise<void> {
  const { xTrain, yTrain } = await loadMnist({ shape: 'flat' });
  const dir = mkdtempSync(join(tmpdir(), 'wpt-overhead-'));
  const configs: Array<{ name: string; freq?: 'epoch' | number; async?: boolean }> = [
    { name: 'no checkpointing' },
    { name: 'every epoch, sync', freq: 'epoch' },
    { name: 'every epoch, async', freq: 'epoch', async: true },
    { name: 'every 50 batches, sync', freq: 50 },
    { name: 'every 50 batches, async', freq: 50, async: true },
  ];
  const results = new Map<string, { seconds: number[]; blocked: number[]; logged: number[]; saves: number }>();
  try {
    for (let r = 0; r < REPEATS; r++) {
      // Rotate the order each repeat, so no configuration always runs first (warm-up, GC state).
      for (const c of [...configs.slice(r % configs.length), ...configs.slice(0, r % configs.length)]) {
        const model = mnistMlp();
        const saves = c.freq === undefined ? 0 : c.freq === 'epoch' ? EPOCHS : Math.floor((EPOCHS * 250) / c.freq);
        // Training's begin (the restore) and end (the last flush) are not counted as overhead.
        const timed =
          c.freq === undefined
            ? null
            : new TimedCallback(
                new BackupAndRestore({
                  backupDir: join(dir, `${c.name}-${r}`),
                  saveFreq: c.freq,
                  async: c.async,
                  logOverhead: true,
                }),
                ['onTrainBegin', 'onTrainEnd'],
              );
        const t = performance.now();
        const history = await model.fit(xTrain, yTrain, {
          epochs: EPOCHS,
          batchSize: 32,
          verbose: 0,
          callbacks: timed ? [timed] : [],
        });
        const entry = results.get(c.name) ?? { seconds: [], blocked: [], logged: [], saves };
        // What the fit itself logged: the mean of its epochs' checkpoint_overhead.
        const logged = history.history.checkpoint_overhead ?? [];
        if (logged.length) entry.logged.push(logged.reduce((a, b) => a + b, 0) / logged.length);
        entry.seconds.push((performance.now() - t) / 1000);
        entry.blocked.push(timed?.blockedMs ?? 0);
        results.set(c.name, entry);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const base = median(results.get('no checkpointing')!.seconds);
  const rows = configs.map((c) => {
    const r = results.get(c.name)!;
    const s = median(r.seconds);
    const blocked = median(r.blocked);
    return [
      c.name,
      s,
      r.saves,
      `${(((s - base) / base) * 100).toFixed(1)}%`,
      r.saves ? blocked / r.saves : NaN,
      `${((blocked / 1000 / base) * 100).toFixed(2)}%`,
      r.logged.length ? `${(median(r.logged) * 100).toFixed(2)}%` : '',
    ];
  });
  console.log(
    `\nMNIST MLP, ${EPOCHS} epochs × 250 batches, BackupAndRestore (weights + Adam state + history + RNG), median of ${REPEATS}`,
  );
  console.log(
    table(
      [
        'checkpointing',
        'train s',
        'saves',
        'wall vs none (noisy)',
        'ms blocked per save',
        'blocked / train time',
        'checkpoint_overhead logged',
      ],
      rows,
    ),
  );
  console.log(
    'blocked = time the training loop waits inside the checkpoint callback; wall = difference of medians, which machine noise dominates at this size',
  );
}
