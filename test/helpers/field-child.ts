/**
 * A training process for the field tests (signals, pid namespaces, zombies): a small model
 * whose batches each take ~4 ms of synchronous work, with BackupAndRestore at its defaults
 * (a backup per epoch) and `interruptOnSignals`. It prints `pid P`, then `start E B` once
 * restored, then `batch E B` after every batch; at the end it writes its fingerprint to OUT.
 * usage: field-child.ts RUN_DIR OUT.json [SLOW_STORAGE_MS]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BackupAndRestore,
  Callback,
  fsStorage,
  interruptOnSignals,
  setDefaultStorage,
  type Storage,
} from '../../src/node/index.js';
import { dataFor, fingerprint, makeModel } from '../../harness/training.js';

const [dir, out, slowArg] = process.argv.slice(2);
const slowMs = Number(slowArg ?? 0);
if (slowMs > 0) {
  // Slow writes, so that a second signal can land inside the backup the first one started.
  const sleep = () => new Promise((r) => setTimeout(r, slowMs));
  const slow: Storage = {
    ...fsStorage,
    async createExclusive(path) {
      const h = await fsStorage.createExclusive(path);
      return {
        write: async (b) => {
          await sleep();
          await h.write(b);
        },
        sync: () => h.sync(),
        close: () => h.close(),
      };
    },
  };
  setDefaultStorage(slow);
}

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Reports where training starts and each batch it finishes; the busy wait stands in for a heavier model. */
class Report extends Callback {
  override async onTrainBegin() {
    const { start } = this.context!;
    say(`start ${start.epoch} ${start.batch}`);
  }
  override async onBatchEnd(batch: number) {
    const until = performance.now() + 4;
    while (performance.now() < until); // synchronous work: only the fit loop's own yields let a signal in
    say(`batch ${this.context!.epoch} ${batch}`);
  }
}

say(`pid ${process.pid}`);
const model = makeModel('dropout', 7);
const [x, y] = dataFor('dropout', 400, 3);
interruptOnSignals(model);
await model.fit(x, y, {
  epochs: 3,
  batchSize: 8,
  verbose: 0,
  validationSplit: 0.2,
  callbacks: [new BackupAndRestore({ backupDir: join(dir, 'backup') }), new Report()],
});
writeFileSync(out, JSON.stringify(fingerprint(model)));
