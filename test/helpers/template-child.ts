/**
 * A process saving through one ModelCheckpoint template, for the tests of templates sharing a
 * directory across processes: every batch is saved (slowly, so saves overlap the other
 * process's start), failures are counted instead of stopping the fit.
 * usage: template-child.ts TEMPLATE MAX_TO_KEEP|all EPOCHS
 * prints `saved N failed M` at the end, and each failure on stderr.
 */
import { ModelCheckpoint } from '../../src/node/index.js';
import { dataFor, makeModel } from '../../harness/training.js';

const [template, keep, epochs] = process.argv.slice(2);
let failed = 0;
const checkpoint = new ModelCheckpoint({
  filepath: template,
  monitor: 'loss',
  saveFreq: 1,
  onSaveError: 'warn',
  maxToKeep: keep === 'all' ? undefined : Number(keep),
  write: (line) => {
    if (/failed/.test(line)) {
      failed++;
      process.stderr.write(`${line}\n`);
    }
  },
});
const [x, y] = dataFor('mlp', 60);
await makeModel('mlp', 1).fit(x, y, { epochs: Number(epochs), batchSize: 10, verbose: 0, callbacks: [checkpoint] });
process.stdout.write(`saved ${checkpoint.saved.length} failed ${failed}\n`);
