/**
 * A training process for the TensorBoard resume test: BackupAndRestore every 3 batches and
 * TensorBoard with batch scalars every 2 batches and histograms every epoch; optionally
 * SIGKILLs itself after N batches. usage: tensorboard-child.ts DIR KILL_AT_BATCH(-1 = never)
 */
import { join } from 'node:path';
import { BackupAndRestore, Callback, TensorBoard } from '../../src/node/index.js';
import { dataFor, makeModel } from '../../harness/training.js';

const [dir, killArg] = process.argv.slice(2);
const killAt = Number(killArg);

class Kill extends Callback {
  private n = 0;
  override async onBatchEnd() {
    if (++this.n === killAt) process.kill(process.pid, 'SIGKILL');
  }
}

const model = makeModel('mlp', 4);
const [x, y] = dataFor('mlp');
await model.fit(x, y, {
  epochs: 4,
  batchSize: 8,
  verbose: 0,
  validationSplit: 0.2,
  callbacks: [
    new BackupAndRestore({ backupDir: join(dir, 'backup'), saveFreq: 3 }),
    new TensorBoard({ logDir: join(dir, 'logs'), updateFreq: 2, histogramFreq: 1 }),
    new Kill(),
  ],
});
