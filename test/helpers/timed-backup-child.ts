/**
 * A training process for the lost-work bound of time-based backups: every batch takes about
 * BATCH_MS (a callback waits), BackupAndRestore backs up every INTERVAL_MS of wall-clock
 * time, and after each batch the process prints the number of batches trained since epoch 0.
 * usage: timed-backup-child.ts DIR INTERVAL_MS BATCH_MS
 */
import { join } from 'node:path';
import { BackupAndRestore, Callback } from '../../src/node/index.js';
import { dataFor, makeModel } from '../../harness/training.js';

const [dir, intervalArg, batchArg] = process.argv.slice(2);
const batchMs = Number(batchArg);

class SlowBatches extends Callback {
  // Before the backup's own onBatchEnd: a batch is reported before any backup can hold it.
  override async onBatchEnd() {
    process.stdout.write(`${this.context!.stepsDone}\n`);
    await new Promise((resolve) => setTimeout(resolve, batchMs));
  }
}

const model = makeModel('mlp', 5);
const [x, y] = dataFor('mlp', 200, 1);
await model.fit(x, y, {
  epochs: 100,
  batchSize: 8,
  verbose: 0,
  callbacks: [
    new SlowBatches(),
    new BackupAndRestore({ backupDir: join(dir, 'backup'), saveFreq: { seconds: Number(intervalArg) / 1000 } }),
  ],
});
