/** model.interrupt() and the fit loop's turns of the event loop, in process. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { BackupAndRestore, Callback, MemoryStorage, TrainingInterruptedError } from '../../src/node/index.js';
import { dataFor, fingerprint, makeModel, type Kind } from '../../harness/training.js';

/** Synchronous work per batch, as a heavier model would take: only the fit loop's yields let timers in. */
class Busy extends Callback {
  batches = 0;
  constructor(private readonly ms: number) {
    super();
  }
  override async onBatchEnd() {
    this.batches++;
    const until = performance.now() + this.ms;
    while (performance.now() < until);
  }
}

class InterruptAt extends Callback {
  private n = 0;
  constructor(private readonly at: number) {
    super();
  }
  // Not awaited: interrupt() resolves when this very fit has stopped.
  override async onBatchEnd() {
    if (++this.n === this.at) void this.model.interrupt('test');
  }
}

describe('the fit loop yields to the event loop', () => {
  it('a timer set before fit fires during it, every ~50 ms of batches; with yieldEveryMs: Infinity only after', async () => {
    const [x, y] = dataFor('mlp', 240, 1);
    for (const yieldEveryMs of [50, Infinity]) {
      const busy = new Busy(10); // 30 batches of 10 ms
      const firedAt: number[] = [];
      const timer = setInterval(() => firedAt.push(busy.batches), 0);
      await makeModel('mlp', 1).fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, yieldEveryMs, callbacks: [busy] });
      clearInterval(timer);
      const during = firedAt.filter((b) => b < busy.batches);
      if (yieldEveryMs === 50)
        expect(during.length).toBeGreaterThanOrEqual(4); // 300 ms of work: about six turns
      else expect(during).toEqual([]);
    }
  });
});

describe('model.interrupt()', () => {
  it('stops after the batch in flight; fit rejects with where it stopped; callbacks see onTrainAbort, not onTrainEnd', async () => {
    const [x, y] = dataFor('mlp', 64, 1);
    const model = makeModel('mlp', 1);
    const hooks: string[] = [];
    const watch = new (class extends Callback {
      override async onTrainEnd() {
        hooks.push('end');
      }
      override async onTrainAbort(e: unknown) {
        hooks.push(e instanceof TrainingInterruptedError ? 'abort: interrupted' : 'abort');
      }
    })();
    const err = await model
      .fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, callbacks: [new InterruptAt(11), watch] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(TrainingInterruptedError);
    expect(err).toMatchObject({ reason: 'test', epoch: 1, batch: 3 }); // 8 batches an epoch: the 11th is epoch 1's third
    expect(err.message).toBe('training interrupted (test) at epoch 2, batch 3');
    expect(hooks).toEqual(['abort: interrupted']);
    expect(await model.interrupt()).toBe(false); // no fit runs: nothing to wait for
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 }); // a later fit is not affected
  });

  it('an interrupted run with per-epoch backups resumes at that batch and ends equal to an uninterrupted one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Kind>('mlp', 'dropout', 'cnn', 'ema'),
        fc.integer({ min: 1, max: 18 }),
        fc.integer({ min: 0, max: 99 }), // 6 batches an epoch, 18 in all
        async (kind, at, seed) => {
          const [x, y] = dataFor(kind, 40, seed);
          const options = { epochs: 3, batchSize: 5, verbose: 0 as const, validationSplit: 0.25 };
          const straight = makeModel(kind, seed);
          await straight.fit(x, y, options);
          const storage = new MemoryStorage();
          const backup = () => new BackupAndRestore({ backupDir: '/b', storage });
          await expect(
            makeModel(kind, seed).fit(x, y, { ...options, callbacks: [backup(), new InterruptAt(at)] }),
          ).rejects.toThrow(TrainingInterruptedError);
          const [entry] = JSON.parse(new TextDecoder().decode(storage.files.get('/b/manifest.json'))).checkpoints;
          expect(entry.step).toBe(at); // the exact batch, not the last epoch end
          const resumed = makeModel(kind, seed);
          await resumed.fit(x, y, { ...options, callbacks: [backup()] });
          expect(fingerprint(resumed)).toEqual(fingerprint(straight));
          expect([...storage.files.keys()]).toEqual([]);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('saveOnInterrupt: false keeps only the regular backups', async () => {
    const [x, y] = dataFor('mlp', 40, 1);
    const storage = new MemoryStorage();
    await expect(
      makeModel('mlp', 1).fit(x, y, {
        epochs: 3,
        batchSize: 8,
        verbose: 0,
        callbacks: [new BackupAndRestore({ backupDir: '/b', storage, saveOnInterrupt: false }), new InterruptAt(7)],
      }),
    ).rejects.toThrow(TrainingInterruptedError);
    const [entry] = JSON.parse(new TextDecoder().decode(storage.files.get('/b/manifest.json'))).checkpoints;
    expect(entry.step).toBe(5); // the end of epoch 0 (5 batches an epoch)
  });
});
