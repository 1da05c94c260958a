/**
 * When backups happen besides epochs and batch counts: by wall-clock time (BackupAndRestore,
 * ModelCheckpoint, CheckpointManager) under a fake clock, stretched by an overhead budget;
 * and at an error (BackupAndRestore's saveOnError): the last whole state backed up with the
 * error in the manifest, never a half-applied step, and the resumed run bit-identical to one
 * that never failed.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  BackupAndRestore,
  BatchNormalization,
  Callback,
  CheckpointManager,
  Dense,
  Layer,
  MemoryStorage,
  ModelCheckpoint,
  Sequential,
  trainingCheckpoint,
  type Tensor,
} from '../../src/node/index.js';
import { dataFor, fingerprint, makeModel, type Kind } from '../../harness/training.js';

/** A clock that moves only when told, or by `perCall` on every reading. */
function fakeClock(perCall = 0) {
  let now = 0;
  return { read: () => (now += perCall), advance: (ms: number) => void (now += ms) };
}

/** Advances the fake clock by `ms` at every batch's start: a batch takes that long. */
class BatchTakes extends Callback {
  constructor(
    private readonly clock: { advance(ms: number): void },
    private readonly ms: number,
  ) {
    super();
  }
  override async onBatchBegin() {
    this.clock.advance(this.ms);
  }
}

const manifestOf = (storage: MemoryStorage, path: string) =>
  JSON.parse(new TextDecoder().decode(storage.files.get(path))) as {
    checkpoints: Array<{ step: number; reason?: string }>;
  };

describe('saves by wall-clock time', () => {
  it('BackupAndRestore { seconds: 25 } with batches of 10 s backs up at every third batch, counted from the last backup', async () => {
    const [x, y] = dataFor('mlp');
    const clock = fakeClock();
    const storage = new MemoryStorage();
    const steps: number[] = [];
    const backup = new BackupAndRestore({
      backupDir: '/b',
      storage,
      saveFreq: { seconds: 25 },
      monotonicNow: clock.read,
      deleteCheckpoint: false,
    });
    class Watch extends Callback {
      override async onBatchEnd() {
        const m = storage.files.get('/b/manifest.json');
        if (m) steps.push(...manifestOf(storage, '/b/manifest.json').checkpoints.map((c) => c.step));
      }
    }
    await makeModel('mlp', 1).fit(x, y, {
      epochs: 2,
      batchSize: 8,
      verbose: 0,
      callbacks: [new BatchTakes(clock, 10_000), backup, new Watch()],
    });
    // 8 batches an epoch, 16 in all: due after 30 s, i.e. at batches 3, 6, 9, 12, 15.
    expect([...new Set(steps)]).toEqual([3, 6, 9, 12, 15]);
  });

  it('an overhead budget stretches the interval: saves that block 2 s under a 1 % budget come at least 198 s apart', async () => {
    const [x, y] = dataFor('mlp');
    const clock = fakeClock();
    const storage = new MemoryStorage();
    // The storage's writes take 2 s of the fake clock: what the save blocks.
    const slow = new Proxy(storage, {
      get(target, prop, receiver) {
        if (prop === 'createExclusive')
          return async (path: string) => {
            clock.advance(2000);
            return target.createExclusive(path);
          };
        return Reflect.get(target, prop, receiver);
      },
    });
    const saved: number[] = [];
    const checkpoint = new ModelCheckpoint({
      filepath: '/c/{epoch}-{batch}.wpt',
      saveFreq: { seconds: 30 },
      overheadBudget: 0.01,
      monotonicNow: clock.read,
      storage: slow,
    });
    class Watch extends Callback {
      override async onBatchEnd(batch: number) {
        if (checkpoint.saved.length > saved.length) saved.push(this.context!.stepsDone);
        void batch;
      }
    }
    await makeModel('mlp', 1).fit(x, y, {
      epochs: 6,
      batchSize: 8,
      verbose: 0,
      callbacks: [new BatchTakes(clock, 20_000), checkpoint, new Watch()],
    });
    expect(saved.length).toBeGreaterThanOrEqual(2);
    // Batches of 20 s: the first save after 30 s (batch 2); then ≥ 2 s · (1/0.01 − 1) = 198 s later, 10 batches on.
    expect(saved[0]).toBe(2);
    for (let i = 1; i < saved.length; i++) expect(saved[i] - saved[i - 1]).toBeGreaterThanOrEqual(10);
  });

  it('CheckpointManager { interval: { minutes: 1 } } skips saves until a minute passed; force saves anyway', async () => {
    const clock = fakeClock();
    const storage = new MemoryStorage();
    const model = makeModel('mlp', 1);
    const manager = new CheckpointManager(trainingCheckpoint(model), '/m', {
      storage,
      interval: { minutes: 1 },
      monotonicNow: clock.read,
    });
    const results: Array<string | null> = [];
    for (let i = 0; i < 6; i++) {
      clock.advance(25_000);
      results.push(await manager.save());
    }
    expect(results.map((r) => r !== null)).toEqual([false, false, true, false, false, true]);
    expect(await manager.save({ force: true })).not.toBeNull();
    await manager.close();
    expect(() => new CheckpointManager(trainingCheckpoint(model), '/x', { storage, overheadBudget: 0.01 })).toThrow(
      /interval.*overheadBudget/,
    );
    expect(() => new BackupAndRestore({ backupDir: '/y', saveFreq: { hours: 1 } as never })).toThrow(
      /saveFreq must be \{ minutes \} or \{ seconds \} of positive numbers/,
    );
  });
});

class Thrown extends Error {}
/** Throws from onBatchEnd after `at` batches: user code failing outside the step. */
class ThrowAt extends Callback {
  private n = 0;
  constructor(private readonly at: number) {
    super();
  }
  override async onBatchEnd() {
    if (++this.n === this.at) throw new Thrown(`user code failed after batch ${this.at}`);
  }
}

describe('a backup at an error (saveOnError)', () => {
  it('an exception thrown by a callback at a random batch: the backup holds that batch and the error, and the resumed run equals one never failed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Kind>('mlp', 'dropout', 'ema'),
        fc.integer({ min: 1, max: 17 }), // 6 batches an epoch, 18 in all
        fc.boolean(), // the thrower before or after BackupAndRestore
        async (kind, at, before) => {
          const [x, y] = dataFor(kind, 40, 2);
          const options = { epochs: 3, batchSize: 5, verbose: 0 as const, validationSplit: 0.25 };
          const straight = makeModel(kind, 2);
          await straight.fit(x, y, options);
          const storage = new MemoryStorage();
          const backup = () => new BackupAndRestore({ backupDir: '/b', storage, saveFreq: 'epoch' });
          const failing = [backup(), new ThrowAt(at)];
          await expect(
            makeModel(kind, 2).fit(x, y, { ...options, callbacks: before ? failing.reverse() : failing }),
          ).rejects.toThrow(Thrown);
          const [entry] = manifestOf(storage, '/b/manifest.json').checkpoints;
          expect(entry.step).toBe(at);
          expect(entry.reason).toBe(`error: user code failed after batch ${at}`);
          const resumed = makeModel(kind, 2);
          await resumed.fit(x, y, { ...options, callbacks: [backup()] });
          expect(fingerprint(resumed)).toEqual(fingerprint(straight));
        },
      ),
      { numRuns: 10 },
    );
  });

  it('an error inside a step (a layer failing after BatchNormalization moved its statistics) is not backed up: the last backup stands and the resume is exact', async () => {
    let calls = 0,
      failAt = -1;
    class Fragile extends Layer {
      readonly className = 'Fragile';
      outputShape(shape: number[]) {
        return shape;
      }
      call(x: Tensor, ctx: { training: boolean }) {
        if (ctx.training && ++calls === failAt) throw new Thrown('a kernel failed mid-step');
        return x;
      }
      getConfig() {
        return { name: this.name };
      }
    }
    const build = () => {
      const m = new Sequential(
        [
          new Dense({ units: 8, activation: 'relu', inputShape: [6] }),
          new BatchNormalization(),
          new Fragile(),
          new Dense({ units: 3, activation: 'softmax' }),
        ],
        { seed: 5 },
      );
      m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
      return m;
    };
    const [x, y] = dataFor('mlp', 40, 3);
    const options = { epochs: 2, batchSize: 5, verbose: 0 as const };
    const straight = build();
    await straight.fit(x, y, options);
    const storage = new MemoryStorage();
    const warnings: string[] = [];
    const backup = () => new BackupAndRestore({ backupDir: '/b', storage, saveFreq: 3, warn: (m) => warnings.push(m) });
    calls = 0;
    failAt = 11; // the 11th training step: after the backup at 9, BatchNormalization's statistics already moved
    await expect(build().fit(x, y, { ...options, callbacks: [backup()] })).rejects.toThrow(Thrown);
    expect(manifestOf(storage, '/b/manifest.json').checkpoints.map((c) => c.step)).toEqual([9]);
    expect(warnings.join('\n')).toMatch(/failed inside a step \(a kernel failed mid-step\).*the last backup stands/);
    failAt = -1;
    const resumed = build();
    await resumed.fit(x, y, { ...options, callbacks: [backup()] });
    expect(resumed.getWeights().map((w) => Array.from(w.data))).toEqual(
      straight.getWeights().map((w) => Array.from(w.data)),
    );
  });
});
