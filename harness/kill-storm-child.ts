/**
 * The process the kill harness trains and kills: a small model with batch-level
 * BackupAndRestore and ModelCheckpoint (best only, maxToKeep 2), over a slow filesystem so
 * that kills often land inside a save. Prints "training" once restored; writes its
 * fingerprint to OUT when training completes.
 * usage: child.ts RUN_DIR OUT.json SLOW_MS
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BackupAndRestore,
  Callback,
  ModelCheckpoint,
  fsStorage,
  setDefaultStorage,
  type Storage,
} from '../src/node/index.js';
import { dataFor, fingerprint, makeModel } from './training.js';

const [dir, out, slowArg] = process.argv.slice(2);
const slow = Number(slowArg);
const sleep = () => new Promise((r) => setTimeout(r, slow));
const slowFs: Storage = {
  ...fsStorage,
  async createExclusive(path) {
    const h = await fsStorage.createExclusive(path);
    return {
      write: async (b) => {
        await sleep();
        await h.write(b);
      },
      sync: async () => {
        await sleep();
        await h.sync();
      },
      close: () => h.close(),
    };
  },
  rename: async (a, b) => {
    await sleep();
    await fsStorage.rename(a, b);
  },
};
setDefaultStorage(slowFs);

class Announce extends Callback {
  override async onTrainBegin() {
    process.stdout.write('training\n');
  }
}

const model = makeModel('dropout', 5);
const [x, y] = dataFor('dropout', 120, 2);
await model.fit(x, y, {
  epochs: 10,
  batchSize: 8,
  verbose: 0,
  validationSplit: 0.25,
  callbacks: [
    new BackupAndRestore({ backupDir: join(dir, 'backup'), saveFreq: 2, deleteCheckpoint: false }),
    new ModelCheckpoint({ filepath: join(dir, 'best-{epoch:02d}.wpt'), saveBestOnly: true, maxToKeep: 2 }),
    new Announce(),
  ],
});
writeFileSync(out, JSON.stringify(fingerprint(model)));
