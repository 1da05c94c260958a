/**
 * A run killed with SIGKILL resumes bit-exactly (BackupAndRestore, real child processes): the
 * MNIST-shaped models at random batches, and the stateful kinds — a model with
 * BatchNormalization and an LSTM trained by AdamW on a warmed-up CosineDecay, an MLP under SGD
 * whose rate ReduceLROnPlateau lowers — with their moving statistics, slots, schedule step and
 * the plateau's counters.
 */
import { describe, it, expect, beforeEach, afterEach, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BackupAndRestore,
  Callback,
  CSVLogger,
  EarlyStopping,
  ModelCheckpoint,
  CheckpointError,
  ReduceLROnPlateau,
  type Sequential,
} from '../../src/node/index.js';
import { Crash, CrashAt } from '../helpers/crash-at.js';
import { dataFor, fingerprint, makeModel, type Kind } from '../../harness/training.js';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wpt-resume-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('resume is exact', () => {
  it('a run stopped at any batch and restored into a fresh model equals an uninterrupted run', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }), // epochs
        fc.constantFrom<'epoch' | number>('epoch', 1, 2, 5), // backup frequency
        fc.constantFrom<Kind>('mlp', 'dropout', 'sgd', 'cnn'),
        fc.integer({ min: 0, max: 1000 }), // seed
        fc.integer({ min: 1, max: 30 }), // crash point (batches)
        async (epochs, saveFreq, kind, seed, crashAt) => {
          const run = mkdtempSync(join(dir, 'r-'));
          const [x, y] = dataFor(kind, 40, seed);
          const options = { epochs, batchSize: 8, verbose: 0 as const, validationSplit: 0.25 };
          const reference = makeModel(kind, seed);
          const es = () => new EarlyStopping({ monitor: 'val_loss', patience: 100, restoreBestWeights: true });
          await reference.fit(x, y, { ...options, callbacks: [es()] });

          const backup = () => new BackupAndRestore({ backupDir: join(run, 'backup'), saveFreq });
          const first = makeModel(kind, seed);
          const crashed = await first.fit(x, y, { ...options, callbacks: [backup(), es(), new CrashAt(crashAt)] }).then(
            () => false,
            (e) => {
              if (!(e instanceof Crash)) throw e;
              return true;
            },
          );
          const resumed = makeModel(kind, seed);
          await resumed.fit(x, y, { ...options, callbacks: [backup(), es()] });
          expect(fingerprint(resumed)).toEqual(fingerprint(reference));
          if (!crashed) expect(fingerprint(first)).toEqual(fingerprint(reference));
          expect(existsSync(join(run, 'backup'))).toBe(false); // deleted after a completed run
        },
      ),
      { numRuns: 25 },
    );
  });

  it('resumes in a fresh process after SIGKILL, with the CSV matching the history', () => {
    const child = join(import.meta.dirname, '..', 'helpers', 'resume-child.ts');
    const tsx = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'tsx');
    for (const saveFreq of ['epoch', '2']) {
      const straight = mkdtempSync(join(dir, 's-')),
        killed = mkdtempSync(join(dir, 'k-'));
      execFileSync(tsx, [child, straight, 'dropout', saveFreq, '-1', join(straight, 'out.json')]);
      const kill = spawnSync(tsx, [child, killed, 'dropout', saveFreq, '9', join(killed, 'out.json')]);
      expect(kill.signal ?? kill.status).not.toBe(0); // it really died
      expect(existsSync(join(killed, 'out.json'))).toBe(false);
      execFileSync(tsx, [child, killed, 'dropout', saveFreq, '-1', join(killed, 'out.json')]);
      expect(readFileSync(join(killed, 'out.json'), 'utf8')).toBe(readFileSync(join(straight, 'out.json'), 'utf8'));
      expect(readFileSync(join(killed, 'log.csv'), 'utf8')).toBe(readFileSync(join(straight, 'log.csv'), 'utf8'));
    }
  });

  it('model.save carries the history: loadModel + fit(initialEpoch: currentEpoch) continues it', async () => {
    const { loadModel } = await import('../../src/node/index.js');
    const [x, y] = dataFor('mlp');
    const straight = makeModel('mlp', 3);
    await straight.fit(x, y, { epochs: 4, verbose: 0 });
    const first = makeModel('mlp', 3);
    await first.fit(x, y, { epochs: 2, verbose: 0 });
    await first.save(join(dir, 'm.wpt'));
    const again = (await loadModel(join(dir, 'm.wpt'))) as Sequential;
    expect(again.currentEpoch).toBe(2);
    expect(again.history.history).toEqual(first.history.history);
    await again.fit(x, y, { epochs: 4, verbose: 0, initialEpoch: again.currentEpoch });
    expect(fingerprint(again)).toEqual(fingerprint(straight));
  });
});

describe('ModelCheckpoint writes exactly the files its options say', () => {
  /** A recorder placed before the checkpoint callback: the logs the reference sees. */
  class Recorder extends Callback {
    epochs: Array<Record<string, number>> = [];
    batches: Array<{ epoch: number; batch: number }> = [];
    override async onBatchEnd(batch: number) {
      this.batches.push({ epoch: this.context!.epoch, batch });
    }
    override async onEpochEnd(_e: number, logs?: Record<string, number>) {
      this.epochs.push({ ...logs! });
    }
  }

  it('matches a reference implementation for random options', async () => {
    const [x, y] = dataFor('mlp', 48);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom<'epoch' | number>('epoch', 1, 3, 4, 7),
        fc.boolean(),
        fc.constantFrom(['val_loss', 'min'], ['val_accuracy', 'max'], ['loss', 'auto'], ['accuracy', 'auto']),
        fc.option(fc.double({ min: 0.5, max: 1.5, noNaN: true }), { nil: undefined }),
        fc.integer({ min: 0, max: 100 }),
        async (epochs, saveFreq, saveBestOnly, [monitor, mode], threshold, seed) => {
          const run = mkdtempSync(join(dir, 'mc-'));
          const perBatch = saveFreq !== 'epoch';
          const filepath = perBatch
            ? join(run, 'b-{epoch:02d}-{batch:03d}.wpt')
            : join(run, 'e-{epoch:02d}-{loss:.4f}.wpt');
          const batchMonitor = perBatch ? (monitor.startsWith('val_') ? monitor.slice(4) : monitor) : monitor;
          const recorder = new Recorder();
          const mc = new ModelCheckpoint({
            filepath,
            monitor: batchMonitor,
            mode: mode as 'min',
            saveBestOnly: saveBestOnly && !perBatch,
            saveFreq,
            initialValueThreshold: threshold,
          });
          const model = makeModel('mlp', seed);
          await model.fit(x, y, { epochs, batchSize: 8, verbose: 0, validationSplit: 0.25, callbacks: [recorder, mc] });

          // Reference
          const expected: string[] = [];
          if (perBatch) {
            recorder.batches.forEach((b, i) => {
              if ((i + 1) % (saveFreq as number) === 0)
                expected.push(
                  join(run, `b-${String(b.epoch + 1).padStart(2, '0')}-${String(b.batch + 1).padStart(3, '0')}.wpt`),
                );
            });
          } else {
            const max = mode === 'max' || (mode === 'auto' && monitor.includes('acc'));
            let best = threshold ?? (max ? -Infinity : Infinity);
            recorder.epochs.forEach((logs, e) => {
              if (saveBestOnly) {
                if (!(max ? logs[monitor] > best : logs[monitor] < best)) return;
                best = logs[monitor];
              }
              expected.push(join(run, `e-${String(e + 1).padStart(2, '0')}-${logs.loss.toFixed(4)}.wpt`));
            });
          }
          expect(mc.saved).toEqual(expected);
          for (const p of expected) expect(existsSync(p)).toBe(true);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('refuses settings that would never save, before training', async () => {
    const [x, y] = dataFor('mlp');
    const model = makeModel('mlp', 1);
    await expect(
      model.fit(x, y, {
        verbose: 0,
        callbacks: [new ModelCheckpoint({ filepath: join(dir, '{val_loss}.wpt'), saveFreq: 2 })],
      }),
    ).rejects.toThrow(/'val_loss' will not exist every 2 batches/);
    await expect(
      model.fit(x, y, {
        verbose: 0,
        callbacks: [new ModelCheckpoint({ filepath: join(dir, 'x.wpt'), saveBestOnly: true })],
      }),
    ).rejects.toThrow(/'val_loss' will not exist at the end of each epoch.*only with validation data/);
    await expect(
      model.fit(x, y, { verbose: 0, callbacks: [new ModelCheckpoint({ filepath: join(dir, '{epoch}-{f1}.wpt') })] }),
    ).rejects.toThrow(/'f1' will not exist/);
    expect(() => new ModelCheckpoint({ filepath: 'x', mode: 'best' as 'min' })).toThrow(/mode must be/);
    expect(model.currentEpoch).toBe(0);
  });

  it('saveLast writes the final model whatever the result; saveWeightsOnly writes weights', async () => {
    const [x, y] = dataFor('mlp');
    const model = makeModel('mlp', 1);
    await model.fit(x, y, {
      epochs: 2,
      verbose: 0,
      callbacks: [
        new ModelCheckpoint({
          filepath: join(dir, 'w{epoch}.wpt'),
          monitor: 'loss',
          saveWeightsOnly: true,
          saveLast: join(dir, 'last.wpt'),
        }),
      ],
    });
    const { WptReader } = await import('../../src/node/index.js');
    const r = await WptReader.open(join(dir, 'w2.wpt'));
    expect(r.header.kind).toBe('weights');
    await r.close();
    const last = await WptReader.open(join(dir, 'last.wpt'));
    expect(last.header.kind).toBe('model');
    expect(last.entries.some((e) => e.key.startsWith('optimizer/'))).toBe(true);
    await last.close();
  });
});

describe('EarlyStopping', () => {
  async function feed(es: EarlyStopping, losses: number[]) {
    const model = makeModel('mlp', 1);
    model.build();
    es.setModel(model);
    await es.onTrainBegin();
    for (const [e, l] of losses.entries()) {
      await es.onEpochEnd(e, { val_loss: l });
      if (model.stopTraining) return { stoppedAt: e, model };
    }
    return { stoppedAt: -1, model };
  }

  it('stops after `patience` epochs without an improvement larger than minDelta', async () => {
    expect((await feed(new EarlyStopping({ patience: 2 }), [1, 0.9, 0.95, 0.91, 0.5])).stoppedAt).toBe(3);
    expect((await feed(new EarlyStopping({ patience: 1, minDelta: 0.2 }), [1, 0.9, 0.85])).stoppedAt).toBe(1);
    // As Keras: improving without beating the baseline does not reset the wait, but a worse epoch stops.
    expect((await feed(new EarlyStopping({ patience: 1, baseline: 0.5 }), [1, 1.1, 0.2])).stoppedAt).toBe(1);
    expect((await feed(new EarlyStopping({ patience: 0, startFromEpoch: 2 }), [1, 2, 3, 4])).stoppedAt).toBe(3);
  });

  it('restoreBestWeights puts back the weights of the best epoch', async () => {
    const model = makeModel('mlp', 2);
    const [x, y] = dataFor('mlp');
    const es = new EarlyStopping({ monitor: 'loss', patience: 1, restoreBestWeights: true, mode: 'max' }); // max loss: epoch 0 is best
    let bestWeights: number[] = [];
    class Grab extends Callback {
      override async onEpochEnd(e: number) {
        if (e === 0) bestWeights = Array.from(this.model.namedParams()[0][1].data);
      }
    }
    await model.fit(x, y, { epochs: 10, verbose: 0, callbacks: [new Grab(), es] });
    expect(es.stoppedEpoch).toBe(1);
    expect(Array.from(model.namedParams()[0][1].data)).toEqual(bestWeights);
  });
});

describe('CSVLogger', () => {
  it('writes a Keras-style CSV; a fit restarted at an earlier epoch drops the later rows', async () => {
    const [x, y] = dataFor('mlp');
    const model = makeModel('mlp', 1);
    const path = join(dir, 'log.csv');
    await model.fit(x, y, { epochs: 3, verbose: 0, callbacks: [new CSVLogger(path)] });
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(4);
    expect(readFileSync(path, 'utf8').split('\n')[0]).toBe('epoch,accuracy,loss');
    await model.fit(x, y, {
      epochs: 2,
      initialEpoch: 1,
      verbose: 0,
      callbacks: [new CSVLogger(path, { append: true })],
    });
    const rows = readFileSync(path, 'utf8').trim().split('\n').slice(1);
    expect(rows.map((r) => r.split(',')[0])).toEqual(['0', '1']);
    expect(rows.map((r) => Number(r.split(',')[2]))).toEqual(model.history.history.loss);
  });
});

describe('TerminateOnNaN', () => {
  it('stops within the batch where the loss stops being finite', async () => {
    const { TerminateOnNaN, Sequential, Dense, SGD } = await import('../../src/node/index.js');
    const [x, y] = dataFor('mlp', 64);
    const model = new Sequential(
      [new Dense({ units: 8, activation: 'relu', inputShape: [6] }), new Dense({ units: 3 })],
      { seed: 1 },
    );
    model.compile({ optimizer: new SGD({ learningRate: 1e12 }), loss: 'mse' });
    const lines: string[] = [];
    let batches = 0;
    class Count extends Callback {
      override async onBatchEnd() {
        batches++;
      }
    }
    await model.fit(x, y, {
      epochs: 50,
      batchSize: 8,
      verbose: 0,
      callbacks: [new Count(), new TerminateOnNaN({ write: (l) => lines.push(l) })],
    });
    expect(lines[0]).toMatch(/^Batch \d+: invalid loss (NaN|Infinity), terminating training$/);
    expect(batches).toBeLessThan(50 * 8);
    expect(model.history.epoch.length).toBeLessThanOrEqual(Math.ceil(batches / 8));
  });
});

const child = join(import.meta.dirname, '..', 'helpers', 'resume-child.ts');
const tsx = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'tsx');
let layersDir: string;
beforeAll(() => {
  layersDir = mkdtempSync(join(tmpdir(), 'wpt-resume-layers-'));
});
afterAll(() => rmSync(layersDir, { recursive: true, force: true }));

const BATCHES = 4 * 6; // 4 epochs of 48 training samples in batches of 8

describe('BatchNormalization + LSTM + AdamW + CosineDecay, SGD + ReduceLROnPlateau, Adam keeping a moving average of the weights, and a functional model of two inputs and two outputs resume bit-exactly in a new process', () => {
  for (const kind of ['sequence', 'plateau', 'ema', 'functional'] as const) {
    it(`${kind}: SIGKILL at a random batch, BackupAndRestore every 2 batches`, () => {
      const straight = mkdtempSync(join(layersDir, `${kind}-s-`));
      execFileSync(tsx, [child, straight, kind, '2', '-1', join(straight, 'out.json')]);
      const reference = readFileSync(join(straight, 'out.json'), 'utf8');
      const history = JSON.parse(JSON.parse(reference).history) as { history: Record<string, number[]> };
      if (kind === 'plateau') expect(new Set(history.history.learning_rate).size).toBeGreaterThan(1); // the reducer did act
      fc.assert(
        fc.property(fc.integer({ min: 1, max: BATCHES - 1 }), (killAt) => {
          const run = mkdtempSync(join(layersDir, `${kind}-k-`));
          const killed = spawnSync(tsx, [child, run, kind, '2', String(killAt), join(run, 'out.json')]);
          expect(
            killed.signal === 'SIGKILL' || killed.status === 128 + 9,
            `the child died of SIGKILL (${killed.signal ?? killed.status}): ${killed.stderr}`,
          ).toBe(true);
          expect(existsSync(join(run, 'out.json'))).toBe(false);
          execFileSync(tsx, [child, run, kind, '2', '-1', join(run, 'out.json')]);
          expect(readFileSync(join(run, 'out.json'), 'utf8')).toBe(reference);
          expect(readFileSync(join(run, 'log.csv'), 'utf8')).toBe(readFileSync(join(straight, 'log.csv'), 'utf8'));
        }),
        { numRuns: 3, examples: [[14]] },
      ); // 14: inside epoch 3, where the plateau's wait decides the reduction
    });
  }

  it('ReduceLROnPlateau refuses an optimizer on a schedule, before training, saying why', async () => {
    const model = makeModel('sequence', 1);
    const [x, y] = dataFor('sequence');
    const err = await model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [new ReduceLROnPlateau()] }).catch((e) => e);
    expect(err.message).toMatch(
      /ReduceLROnPlateau: the optimizer's learning rate follows a CosineDecay schedule.*plain learningRate/,
    );
    expect(err).not.toBeInstanceOf(CheckpointError);
    expect(model.optimizer!.iterations).toBe(0);
  });
});
