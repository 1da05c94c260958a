/**
 * A training process that backs up to a TieredStorage: the local tier in LOCAL_DIR, the remote
 * tier an S3Storage (ENDPOINT, BUCKET). Every request to the remote tier is held back
 * UPLOAD_DELAY_MS, so uploads are in flight for much of the run (a kill lands in them).
 * It prints 'training' when its training starts (after the restore) and 'batch' after each batch. The parent kills it with SIGKILL at random moments and starts it again with a new, empty
 * LOCAL_DIR: a new machine, the same bucket. At the end it writes its fingerprint as JSON.
 * usage: remote-resume-child.ts LOCAL_DIR ENDPOINT BUCKET UPLOAD_DELAY_MS OUT.json
 */
import { writeFileSync } from 'node:fs';
import { BackupAndRestore, Callback, TieredStorage, fsStorage, rootedAt } from '../../src/node/index.js';
import { S3Storage } from '../../src/s3/index.js';
import { dataFor, fingerprint, makeModel } from '../../harness/training.js';

const [localDir, endpoint, bucket, delayArg, out] = process.argv.slice(2);
const delay = Number(delayArg);

const local = rootedAt(fsStorage, localDir);
const remote = new S3Storage({
  endpoint,
  bucket,
  credentials: { accessKeyId: process.env.WAYPOINT_S3_KEY ?? 'testing', secretAccessKey: 'testing' },
  fetch: async (request) => {
    await new Promise((r) => setTimeout(r, delay));
    return fetch(request);
  },
  warn: () => undefined,
});
const storage = new TieredStorage({ local, remote, warn: (m) => console.error(m) });

/** Says when training starts (after the restore) and when each batch ends, for the parent's kill clock; a batch takes 10 ms more (no arithmetic changes). */
class SayTraining extends Callback {
  override async onTrainBegin() {
    process.stdout.write('training\n');
  }
  override async onBatchEnd() {
    process.stdout.write('batch\n');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const model = makeModel('dropout', 11);
const [x, y] = dataFor('dropout', 240);
await model.fit(x, y, {
  epochs: 4,
  batchSize: 8,
  verbose: 0,
  validationSplit: 0.2,
  callbacks: [new BackupAndRestore({ backupDir: 'run/backup', saveFreq: 2, storage }), new SayTraining()],
});
writeFileSync(out, JSON.stringify(fingerprint(model)));
