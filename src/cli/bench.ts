/**
 * `waypoint bench`: what checkpoint I/O costs on this machine. Save, load and restore MB/s per
 * codec beside the physical reference (write + fsync, reads of the same raw bytes), file size per
 * codec, and the overhead of a checkpoint per epoch on a real MNIST MLP run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../tensor/random.js';
import { loadMnist } from '../data/mnist.js';
import { BackupAndRestore } from '../callbacks/backup-and-restore.js';
import { type Command, UsageError } from './args.js';
import { mnistModel } from './models.js';
import { ioTable, measureCodecs, median, startThreadsForBench, syntheticState } from './io-measure.js';

export const bench: Command = {
  name: 'bench',
  title: 'measure checkpoint I/O on this machine',
  summary:
    'Measure checkpoint I/O on this machine: save/load MB/s per codec against the plain fs reference, and the per-epoch overhead of checkpointing an MNIST MLP run.',
  usage: 'bench [--size small|large]',
  options: {
    size: { type: 'string', default: 'small', help: 'small (1M parameters, 3 runs) or large (10M parameters, 5 runs)' },
  },
  async run(positionals, v) {
    if (positionals.length) throw new UsageError(`bench: unexpected argument '${positionals[0]}'`);
    if (v.size !== 'small' && v.size !== 'large')
      throw new UsageError(`bench: --size must be small or large, got '${String(v.size)}'`);
    const large = v.size === 'large';
    const dir = mkdtempSync(join(tmpdir(), 'waypoint-bench-'));
    try {
      const params = large ? 10_000_000 : 1_000_000;
      console.log(
        `checkpoint I/O, ${params.toLocaleString('en-US')} float32 parameters, median of ${large ? 5 : 3} saves and ${large ? 15 : 9} loads:`,
      );
      await startThreadsForBench();
      console.log(ioTable(await measureCodecs(syntheticState(params, new Random(1)), dir, large ? 5 : 3)));
      const { xTrain, yTrain } = await loadMnist({ shape: 'flat' });
      const seconds = async (backup: boolean) => {
        const model = mnistModel('mlp', 1);
        const t = performance.now();
        await model.fit(xTrain, yTrain, {
          epochs: 2,
          verbose: 0,
          callbacks: backup ? [new BackupAndRestore({ backupDir: join(dir, `b${performance.now()}`) })] : [],
        });
        return (performance.now() - t) / 1000;
      };
      const without: number[] = [],
        withBackup: number[] = [];
      for (let i = 0; i < 3; i++) {
        without.push(await seconds(false));
        withBackup.push(await seconds(true));
      }
      const [a, b] = [median(without), median(withBackup)];
      console.log(
        `\nMNIST MLP, 2 epochs: ${a.toFixed(2)} s without checkpoints, ${b.toFixed(2)} s with a backup every epoch: overhead ${(((b - a) / a) * 100).toFixed(1)}% (median of 3; noisy below a few %)`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
