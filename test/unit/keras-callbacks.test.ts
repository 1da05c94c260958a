/**
 * Callbacks held to Keras 3's semantics, point by point (keras/src/callbacks/*.py). Each test
 * names the Keras behaviour it mirrors; where Waypoint keeps its own, README says so and why.
 */
import { describe, it, expect } from 'vitest';
import {
  ArgumentError,
  BackupAndRestore,
  CSVLogger,
  Callback,
  CallbackList,
  EarlyStopping,
  MemoryStorage,
  ModelCheckpoint,
  NonFiniteLossError,
  TerminateOnNaN,
  type Logs,
} from '../../src/node/index.js';
import { dataFor, fingerprint, makeModel } from '../../harness/training.js';

/** Drives an EarlyStopping by hand, as Keras's own tests do: onTrainBegin, then onEpochEnd per value. */
async function feed(es: EarlyStopping, values: number[], monitor = 'val_loss') {
  const model = makeModel('mlp', 1);
  model.build();
  es.setModel(model);
  await es.onTrainBegin();
  for (const [e, v] of values.entries()) {
    await es.onEpochEnd(e, { [monitor]: v });
    if (model.stopTraining) return e;
  }
  return -1;
}

class InterruptAt extends Callback {
  private n = 0;
  constructor(private readonly at: number) {
    super();
  }
  override async onBatchEnd() {
    if (++this.n === this.at) void this.model.interrupt('test');
  }
}

describe('EarlyStopping', () => {
  it("mode 'auto' with a monitor of unknown direction: refused at construction, naming the fix (Keras raises rather than guess)", () => {
    expect(() => new EarlyStopping({ monitor: 'unknown' })).toThrow(ArgumentError);
    expect(() => new EarlyStopping({ monitor: 'unknown' })).toThrow(
      /cannot tell whether 'unknown' should be minimized or maximized; pass mode: 'max'.*mode: 'min'/,
    );
    expect(() => new EarlyStopping({ monitor: 'unknown', mode: 'max' })).not.toThrow();
    expect(() => new EarlyStopping({ monitor: 'val_accuracy' })).not.toThrow();
  });

  it('a reused stopper starts fresh in onTrainBegin (Keras resets wait, best, stopped and best epoch, best weights)', async () => {
    const es = new EarlyStopping({ patience: 2 });
    expect(await feed(es, [1, 2, 3])).toBe(2);
    expect(es.stoppedEpoch).toBe(2);
    // A second fit whose values are all worse than the first fit's best: with the old best kept it would stop at epoch 1.
    expect(await feed(es, [5, 5.5, 4, 4.5, 4.6])).toBe(4);
  });

  it('the reset comes before BackupAndRestore gives it its saved state on a resume, whatever the callback order', async () => {
    const [x, y] = dataFor('mlp', 60, 3);
    const options = { epochs: 4, batchSize: 8, verbose: 0 as const, validationSplit: 0.2 };
    const stopper = () => new EarlyStopping({ monitor: 'val_loss', patience: 100, restoreBestWeights: true });
    const straightStopper = stopper();
    const straight = makeModel('mlp', 2);
    await straight.fit(x, y, { ...options, callbacks: [straightStopper] });
    for (const order of ['stopper first', 'backup first'] as const) {
      const storage = new MemoryStorage();
      const run = (extra: Callback[]) => {
        const es = stopper(),
          backup = new BackupAndRestore({ backupDir: '/b', storage, saveFreq: 3 });
        return { es, callbacks: [...(order === 'stopper first' ? [es, backup] : [backup, es]), ...extra] };
      };
      const first = run([new InterruptAt(14)]); // inside epoch 2: the stopper has a best and a wait to carry over
      await expect(makeModel('mlp', 2).fit(x, y, { ...options, callbacks: first.callbacks })).rejects.toThrow(
        /interrupted/,
      );
      const second = run([]);
      const resumed = makeModel('mlp', 2);
      await resumed.fit(x, y, { ...options, callbacks: second.callbacks });
      expect({ wait: second.es.wait, best: second.es.best, bestEpoch: second.es.bestEpoch }, order).toEqual({
        wait: straightStopper.wait,
        best: straightStopper.best,
        bestEpoch: straightStopper.bestEpoch,
      });
      expect(fingerprint(resumed), order).toEqual(fingerprint(straight));
    }
  });

  it('restoreBestWeights restores at train end however training ended: epochs ran out, or another callback stopped it (Keras on_train_end)', async () => {
    const [x, y] = dataFor('mlp', 48, 5);
    const scores = [3, 1, 2, 4, 5, 6]; // the best epoch is epoch 1, never the last
    for (const ending of ['epochs ran out', 'another callback stopped it'] as const) {
      const model = makeModel('mlp', 4);
      const weightsAt: number[][][] = [];
      // Runs before the stopper and adds the monitored value to the epoch's logs (callbacks share them, as in Keras).
      const score = new (class extends Callback {
        override async onEpochEnd(epoch: number, logs?: Logs) {
          logs!.score = scores[epoch];
          weightsAt.push(this.model.namedParams().map(([, p]) => Array.from(p.data)));
          if (ending === 'another callback stopped it' && epoch === 3) this.model.stopTraining = true;
        }
      })();
      const es = new EarlyStopping({ monitor: 'score', mode: 'min', patience: 100, restoreBestWeights: true });
      await model.fit(x, y, { epochs: 6, batchSize: 4, verbose: 0, callbacks: [score, es] });
      expect(weightsAt.length, ending).toBe(ending === 'epochs ran out' ? 6 : 4);
      expect(es.bestEpoch, ending).toBe(1);
      expect(
        model.namedParams().map(([, p]) => Array.from(p.data)),
        ending,
      ).toEqual(weightsAt[1]);
    }
  });

  it('verbose: 1 says when it stopped and which weights it restored (Keras prints both at train end)', async () => {
    const lines: string[] = [];
    const es = new EarlyStopping({ patience: 1, restoreBestWeights: true, verbose: 1, write: (l) => lines.push(l) });
    expect(await feed(es, [1, 2, 3])).toBe(1);
    await es.onTrainEnd();
    expect(lines).toEqual(['Epoch 2: early stopping', 'Restoring model weights from the end of the best epoch: 1.']);
  });
});

describe('hooks called outside a fit work with what they are given (Keras tests call them by hand)', () => {
  it('onTrainBegin of every built-in callback, with a model and no fit', async () => {
    const storage = new MemoryStorage();
    const model = makeModel('mlp', 1);
    model.build();
    const callbacks = [
      new ModelCheckpoint({ filepath: '/m/{epoch}.wpt', storage }),
      new EarlyStopping(),
      new CSVLogger('/m/log.csv', { storage }),
      new BackupAndRestore({ backupDir: '/m/b', storage }),
      new TerminateOnNaN(),
    ];
    for (const c of callbacks) {
      c.setModel(model);
      await expect(c.onTrainBegin(), c.constructor.name).resolves.toBeUndefined();
    }
    await callbacks[3].onTrainEnd();
    await expect(callbacks[4].onBatchEnd(0, { loss: 1 })).resolves.toBeUndefined();
  });
});

describe('BackupAndRestore', () => {
  it('doubleCheckpoint keeps the previous backup, so a damaged latest one falls back to it (Keras double_checkpoint)', async () => {
    const [x, y] = dataFor('mlp', 48, 2);
    const options = { epochs: 3, batchSize: 8, verbose: 0 as const };
    const straight = makeModel('mlp', 1);
    await straight.fit(x, y, options);
    for (const double of [false, true]) {
      const storage = new MemoryStorage();
      const warnings: string[] = [];
      const backup = () =>
        new BackupAndRestore({
          backupDir: '/b',
          storage,
          saveFreq: 2,
          doubleCheckpoint: double,
          warn: (m) => warnings.push(m),
        });
      await expect(
        makeModel('mlp', 1).fit(x, y, { ...options, callbacks: [backup(), new InterruptAt(9)] }),
      ).rejects.toThrow(/interrupted/);
      const files = [...storage.files.keys()].filter((k) => k.endsWith('.wpt')).sort();
      expect(files).toEqual(double ? ['/b/backup-8.wpt', '/b/backup-9.wpt'] : ['/b/backup-9.wpt']);
      storage.files.get('/b/backup-9.wpt')![40] ^= 0xff; // the latest backup is damaged
      const resumed = makeModel('mlp', 1);
      await resumed.fit(x, y, { ...options, callbacks: [backup()] });
      expect(warnings.join()).toMatch(/backup-9\.wpt is damaged/);
      expect(fingerprint(resumed)).toEqual(fingerprint(straight)); // from batch 8, or from the start: the same run
    }
  });
});

describe('fit, TerminateOnNaN, CallbackList, History', () => {
  it('validationFreq: an integer validates every N epochs, an array at those 1-based epochs (Keras validation_freq)', async () => {
    const [x, y] = dataFor('mlp', 40, 1);
    const every2 = await makeModel('mlp', 1).fit(x, y, {
      epochs: 4,
      batchSize: 8,
      verbose: 0,
      validationSplit: 0.25,
      validationFreq: 2,
    });
    expect(every2.history.val_loss.map(Number.isNaN)).toEqual([true, false, true, false]);
    const listed = await makeModel('mlp', 1).fit(x, y, {
      epochs: 4,
      batchSize: 8,
      verbose: 0,
      validationSplit: 0.25,
      validationFreq: [1, 4],
    });
    expect(listed.history.val_loss.map(Number.isNaN)).toEqual([false, true, true, false]);
    await expect(makeModel('mlp', 1).fit(x, y, { verbose: 0, validationFreq: 0 })).rejects.toThrow(
      /validationFreq must be a positive integer or an array of 1-based epochs, got 0/,
    );
  });

  it('TerminateOnNaN({ raiseError: true }) fails the fit instead of stopping it (Keras raise_error)', async () => {
    const [x, y] = dataFor('mlp', 24, 1);
    x.data[9 * 6] = NaN; // batch 1
    const err = await makeModel('mlp', 1)
      .fit(x, y, {
        epochs: 2,
        batchSize: 8,
        shuffle: false,
        verbose: 0,
        callbacks: [new TerminateOnNaN({ raiseError: true })],
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect(err).toMatchObject({ batch: 1 });
    expect(err.message).toBe('batch 1: invalid loss NaN, terminating training');
  });

  it('new CallbackList() holds [], and every hook of a fit gets a logs object, {} where there is nothing to log (Keras)', async () => {
    expect(new CallbackList().callbacks).toEqual([]);
    const got: Array<[string, unknown]> = [];
    const spy = new (class extends Callback {
      override async onTrainBegin(logs?: Logs) {
        got.push(['trainBegin', logs]);
      }
      override async onEpochBegin(_e: number, logs?: Logs) {
        got.push(['epochBegin', logs]);
      }
      override async onBatchBegin(_b: number, logs?: Logs) {
        got.push(['batchBegin', typeof logs]);
      }
    })();
    const [x, y] = dataFor('mlp', 8, 1);
    await makeModel('mlp', 1).fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, callbacks: [spy] });
    expect(got).toEqual([
      ['trainBegin', {}],
      ['epochBegin', {}],
      ['batchBegin', 'object'],
    ]);
  });

  it('History keeps every series aligned with history.epoch: a key first logged at epoch 1 is NaN at epoch 0 (Keras would record [v]; see README)', async () => {
    const [x, y] = dataFor('mlp', 40, 1);
    const history = await makeModel('mlp', 1).fit(x, y, {
      epochs: 2,
      batchSize: 8,
      verbose: 0,
      validationSplit: 0.25,
      validationFreq: [2],
    });
    expect(history.epoch).toEqual([0, 1]);
    expect(history.history.val_loss).toHaveLength(2);
    expect(history.history.val_loss[0]).toBeNaN();
    expect(history.history.val_loss[1]).toBeGreaterThan(0);
  });
});
