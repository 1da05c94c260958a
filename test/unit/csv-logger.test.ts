/**
 * CSVLogger (callbacks/csv-logger.ts) held to Keras's: one row per epoch, validation columns
 * before the first validation (NA until given), appends across fits, a resumed fit replacing
 * only the rows of the epochs it trains again; also called by hand, as a custom loop does.
 */
import { describe, it, expect } from 'vitest';
import { CSVLogger, Callback, CallbackList, MemoryStorage } from '../../src/node/index.js';
import { dataFor, makeModel } from '../../harness/training.js';

const csvOf = (storage: MemoryStorage, path: string) =>
  new TextDecoder().decode(storage.files.get(path)).trim().split('\n');

describe('CSVLogger', () => {
  it('append on a new fit from epoch 0 keeps the earlier rows (Keras appends); a resumed fit drops only the epochs it replays', async () => {
    const [x, y] = dataFor('mlp', 32, 1);
    const storage = new MemoryStorage();
    const log = () => new CSVLogger('/log.csv', { append: true, storage });
    await makeModel('mlp', 1).fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [log()] });
    await makeModel('mlp', 2).fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [log()] });
    expect(csvOf(storage, '/log.csv').map((r) => r.split(',')[0])).toEqual(['epoch', '0', '1', '0', '1']);
    const continued = makeModel('mlp', 3);
    await continued.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    await continued.fit(x, y, { epochs: 3, initialEpoch: 1, batchSize: 8, verbose: 0, callbacks: [log()] }); // a resume: epochs ≥ 1 are replaced
    expect(csvOf(storage, '/log.csv').map((r) => r.split(',')[0])).toEqual(['epoch', '0', '1', '0', '1', '2']);
  });

  it('the header has the validation columns before the first validation, and a missing value is NA (Keras)', async () => {
    const [x, y] = dataFor('mlp', 40, 1);
    const storage = new MemoryStorage();
    await makeModel('mlp', 1).fit(x, y, {
      epochs: 3,
      batchSize: 8,
      verbose: 0,
      validationSplit: 0.25,
      validationFreq: 2,
      callbacks: [new CSVLogger('/v.csv', { storage })],
    });
    const rows = csvOf(storage, '/v.csv').map((r) => r.split(','));
    expect(rows[0]).toEqual(['epoch', 'accuracy', 'loss', 'val_accuracy', 'val_loss']);
    expect(rows.map((r) => r[4] === 'NA')).toEqual([false, true, false, true]);
  });
});

describe('CSVLogger and CallbackList called by hand (a custom loop)', () => {
  it('hooks called without logs pass {}; first logs without val_ keys get val_ columns, NA until given (Keras)', async () => {
    const storage = new MemoryStorage();
    const seen: unknown[] = [];
    const probe = new Callback();
    probe.onEpochBegin = async (_e, logs) => {
      seen.push(logs);
    };
    probe.onTrainBegin = async (logs) => {
      seen.push(logs);
    };
    const list = new CallbackList([probe, new CSVLogger('/hand.csv', { storage })]);
    await list.trainBegin();
    await list.epochBegin(0);
    expect(seen).toEqual([{}, {}]);
    await list.epochEnd(0, { loss: 0.5 });
    await list.epochEnd(1, { loss: 0.25, val_loss: 0.75 });
    expect(csvOf(storage, '/hand.csv')).toEqual(['epoch,loss,val_loss', '0,0.5,NA', '1,0.25,0.75']);
  });
});
