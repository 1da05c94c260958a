/**
 * A process that trains on a streamed CSV with backups every SAVE_FREQ batches, for the kill
 * tests and the streaming bench. It logs every read of the file (offset and length) to
 * READ_LOG with a synchronous append, so the log survives a SIGKILL; it prints `start E B`
 * once restored and `batch E B` after each batch; at the end it writes the weights' bits to OUT.
 * usage: csv-stream-child.ts SOURCE(path or URL) RUN_DIR SAVE_FREQ READ_LOG OUT.json [EPOCHS]
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackupAndRestore, Callback, fsStorage, interruptOnSignals, type Storage } from '../src/node/index.js';
import { csvModel, csvPipeline } from './csv-stream.js';

const [source, dir, saveFreq, readLog, out, epochs] = process.argv.slice(2);

/** The file system, with every read of the CSV logged before it is used. */
const logged: Storage = {
  ...fsStorage,
  async openRead(path) {
    const handle = await fsStorage.openRead(path);
    if (path !== source) return handle;
    return {
      size: handle.size,
      read: async (offset, length, into) => {
        const bytes = await handle.read(offset, length, into);
        appendFileSync(readLog, `${offset} ${bytes.length}\n`);
        return bytes;
      },
      close: () => handle.close(),
    };
  },
};

const say = (line: string) => process.stdout.write(`${line}\n`);
class Report extends Callback {
  override async onTrainBegin() {
    const { epoch, batch } = this.context!.start;
    appendFileSync(readLog, `start ${epoch} ${batch}\n`);
    say(`start ${epoch} ${batch}`);
  }
  override async onBatchEnd(batch: number) {
    say(`batch ${this.context!.epoch} ${batch}`);
  }
}

const model = csvModel();
interruptOnSignals(model);
await model.fitDataset(csvPipeline(source, { storage: logged }), {
  epochs: Number(epochs ?? 1),
  verbose: 0,
  callbacks: [new BackupAndRestore({ backupDir: join(dir, 'backup'), saveFreq: Number(saveFreq) }), new Report()],
});
const bits = model
  .getWeights()
  .map((w) => Array.from(new Uint32Array(w.data.buffer, w.data.byteOffset, w.data.length)));
writeFileSync(out, JSON.stringify({ bits, history: model.history.history, rss: process.resourceUsage().maxRSS }));
