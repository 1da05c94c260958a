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
  usage: 'bench [--size small|large|100M|1G|4G]',
  options: {
    size: {
      type: 'string',
      default: 'small',
      help: 'small (1M parameters, 3 runs), large (10M parameters, 5 runs), or a size such as 100M, 1G or 4G (one run each; needs about four times that in memory)',
    },
  },
  async run(positionals, v) {
    if (positionals.length) throw new UsageError(`bench: unexpected argument '${positionals[0]}'`);
    const size = String(v.size);
    const bytes = /^\d+(\.\d+)?[MG]$/.test(size) ? parseFloat(size) * (size.endsWith('G') ? 1e9 : 1e6) : null;
    if (size !== 'small' && size !== 'large' && !(bytes !== null && bytes >= 1e6))
      throw new UsageError(`bench: --size must be small, large or a size such as 100M or 4G, got '${size}'`);
    const large = size === 'large';
    const dir = mkdtempSync(join(tmpdir(), 'waypoint-bench-'));
    try {
      const params = bytes !== null ? Math.floor(bytes / 4) : large ? 10_000_000 : 1_000_000;
      const runs = bytes !== null ? 1 : large ? 5 : 3;
      console.log(
        `checkpoint I/O, ${params.toLocaleString('en-US')} float32 parameters, median of ${runs} save${runs > 1 ? 's' : ''} and ${3 * runs} loads:`,
      );
      await startThreadsForBench();
      console.log(ioTable(await measureCodecs(syntheticState(params, new Random(1)), dir, runs)));
      // A run of MNIST measures the per-epoch overhead; a model of a given size is about I/O alone.
      if (bytes !== null) return;
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
