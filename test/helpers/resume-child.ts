/**
 * A training process for the resume tests: trains with BackupAndRestore, optionally SIGKILLs
 * itself after a given number of batches, and at the end writes its fingerprint as JSON.
 * usage: resume-child.ts DIR KIND SAVE_FREQ KILL_AT_BATCH(-1 = never) OUT.json
 * (KIND 'functional': harness/training.ts's two-input, two-output functional model)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackupAndRestore, Callback, CSVLogger } from '../../src/node/index.js';
import {
  callbacksFor,
  dataFor,
  fingerprint,
  functionalData,
  makeFunctional,
  makeModel,
  type Kind,
} from '../../harness/training.js';

const [dir, kind, saveFreqArg, killArg, out] = process.argv.slice(2);
const saveFreq = saveFreqArg === 'epoch' ? 'epoch' : Number(saveFreqArg);
const killAt = Number(killArg);

class Kill extends Callback {
  private n = 0;
  override async onBatchEnd() {
    if (++this.n === killAt) process.kill(process.pid, 'SIGKILL');
  }
}

const functional = kind === 'functional';
const model = functional ? makeFunctional(11) : makeModel(kind as Kind, 11);
const [x, y] = functional ? functionalData() : dataFor(kind as Kind);
await model.fit(x, y, {
  epochs: 4,
  batchSize: 8,
  verbose: 0,
  validationSplit: 0.2,
  callbacks: [
    new BackupAndRestore({ backupDir: join(dir, 'backup'), saveFreq }),
    new CSVLogger(join(dir, 'log.csv')),
    ...(functional ? [] : callbacksFor(kind as Kind)),
    new Kill(),
  ],
});
writeFileSync(out, JSON.stringify(fingerprint(model)));
