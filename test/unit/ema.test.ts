/**
 * Moving averages of the weights (`ema` on an optimizer, Keras's use_ema): the update rule in
 * float32 by hand, the overwrite every N steps, the averages in the weights after fit (as
 * Keras), as state in checkpoints, and `weights: 'raw' | 'ema'` for evaluate, loadModel,
 * ModelCheckpoint and the CLI. Keras parity: test/parity/keras-parity.test.ts (adam_ema,
 * sgd_ema_overwrite); resume after SIGKILL: test/field/resume.test.ts ('ema').
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Adam,
  Dense,
  MemoryStorage,
  ModelCheckpoint,
  SGD,
  Sequential,
  Tensor,
  loadModel,
  readWpt,
} from '../../src/node/index.js';
import { optimizerFromConfig } from '../../src/optim/index.js';
import { dataFor, makeModel } from '../../harness/training.js';

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const f32 = Math.fround;

describe('the moving average', () => {
  it("follows Keras's rule in float32: the first step copies, then m·average + (1 − m)·weight", () => {
    const momentum = 0.9;
    const optimizer = new SGD({ learningRate: 0.1, ema: { momentum } });
    const w = new Tensor(Float32Array.of(1, -2), [2]);
    w.requiresGrad = true;
    const params = [['w', w]] as const;
    let expected = new Float32Array(2);
    for (let step = 1; step <= 4; step++) {
      w.grad = new Tensor(Float32Array.of(0.5 * step, 1), [2]);
      optimizer.applyGradients(params);
      const m = step === 1 ? 0 : f32(momentum),
        rest = f32(1 - m);
      expected = Float32Array.from(expected, (a, i) => f32(m * a) + f32(rest * w.data[i]));
      expect(bits(optimizer.averages.get('w')!), `step ${step}`).toEqual(bits(expected));
    }
  });

  it('overwriteFrequency: every N steps the weights take the averages, and only then', () => {
    const optimizer = new SGD({ learningRate: 0.5, ema: { momentum: 0.5, overwriteFrequency: 3 } });
    const w = new Tensor(Float32Array.of(1), [1]);
    const params = [['w', w]] as const;
    for (let step = 1; step <= 6; step++) {
      w.grad = new Tensor(Float32Array.of(1), [1]);
      optimizer.applyGradients(params);
      const same = w.data[0] === optimizer.averages.get('w')![0];
      expect(same, `step ${step}`).toBe(step === 1 || step % 3 === 0);
    }
  });

  it('fit ends with the averages in the weights (as Keras); the averages are saved and restored with the optimizer', async () => {
    const [x, y] = dataFor('ema');
    const model = makeModel('ema', 3);
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
    const averages = model.optimizer!.averages;
    for (const [path, p] of model.namedParams()) expect(bits(p.data), path).toEqual(bits(averages.get(path)!));
    const storage = new MemoryStorage();
    await model.save('/m.wpt', { storage });
    const { values } = await readWpt('/m.wpt', storage);
    expect([...values.keys()]).toContain('optimizer/ema/layers/0/kernel');
    const back = await loadModel('/m.wpt', { storage });
    for (const [path, a] of averages) expect(bits(back.optimizer!.averages.get(path)!), path).toEqual(bits(a));
    expect(back.optimizer!.getConfig().ema).toEqual({ momentum: 0.9, overwriteFrequency: 5 });
  });

  it('its config round-trips, a restore into another momentum is refused naming it, and bad values are refused', () => {
    const adam = new Adam({ ema: { momentum: 0.95 } });
    const again = optimizerFromConfig({ className: 'Adam', config: adam.getConfig() })!;
    expect(again.getConfig()).toEqual(adam.getConfig());
    const other = new Adam({ ema: { momentum: 0.5 } });
    expect(() => other.loadStateDict(adam.stateDict())).toThrow(
      /ema: saved \{"momentum":0.95\}, this is \{"momentum":0.5\}/,
    );
    expect(() => new Adam({ ema: { momentum: 1.5 } })).toThrow(/Adam: ema\.momentum must be in \[0, 1\], got 1\.5/);
    expect(() => new SGD({ ema: { overwriteFrequency: 0 } })).toThrow(
      /SGD: ema\.overwriteFrequency must be an integer of at least 1, got 0/,
    );
  });
});

describe("weights: 'raw' | 'ema'", () => {
  /** A model mid-training: raw weights and averages that differ (a fit would end with them equal). */
  async function midTraining() {
    const [x, y] = dataFor('ema');
    const model = makeModel('ema', 5);
    const params = model.namedParams();
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    // One more raw step by hand (the 9th: no overwrite): the weights move on from their averages.
    for (const [, p] of params) p.grad = new Tensor(new Float32Array(p.size).fill(0.3), p.shape);
    model.optimizer!.applyGradients(params);
    return { model, x, y };
  }

  it("evaluate: 'ema' evaluates the averages and leaves the raw weights as they were", async () => {
    const { model, x, y } = await midTraining();
    const raw = model.getWeights().map((w) => bits(w.data));
    const onEma = await model.evaluate(x, y, { weights: 'ema' });
    expect(model.getWeights().map((w) => bits(w.data))).toEqual(raw);
    const copy = makeModel('ema', 5);
    copy.setWeights(model.namedParams().map(([path]) => model.optimizer!.averages.get(path)!));
    expect(onEma).toEqual(await copy.evaluate(x, y));
    expect(onEma.loss).not.toBe((await model.evaluate(x, y)).loss);
  });

  it("loadModel and ModelCheckpoint: 'ema' gives the averaged model; without ema the error says so", async () => {
    const { model } = await midTraining();
    const storage = new MemoryStorage();
    await model.save('/m.wpt', { storage });
    const averaged = await loadModel('/m.wpt', { storage, weights: 'ema' });
    for (const [path, p] of averaged.namedParams())
      expect(bits(p.data), path).toEqual(bits(model.optimizer!.averages.get(path)!));

    const [x, y] = dataFor('ema');
    const checkpoint = new ModelCheckpoint({ filepath: '/ema/{epoch}.wpt', weights: 'ema', storage });
    const trained = makeModel('ema', 6);
    await trained.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, callbacks: [checkpoint] });
    // Epoch 1's file holds the averages of that moment: the weights fit ended with.
    const saved = await loadModel('/ema/1.wpt', { storage });
    expect(saved.getWeights().map((w) => bits(w.data))).toEqual(trained.getWeights().map((w) => bits(w.data)));

    const plain = new Sequential([new Dense({ units: 2, inputShape: [3] })]);
    plain.compile({ optimizer: 'adam', loss: 'mse' });
    await plain.save('/plain.wpt', { storage });
    await expect(loadModel('/plain.wpt', { storage, weights: 'ema' })).rejects.toThrow(
      /weights 'ema' needs an optimizer with ema \(this model's Adam keeps no averages\)/,
    );
    await expect(
      plain.evaluate(new Tensor(new Float32Array(3), [1, 3]), new Tensor(new Float32Array(2), [1, 2]), {
        weights: 'emma' as never,
      }),
    ).rejects.toThrow(/evaluate: weights must be 'raw' or 'ema', got "emma"/);
  });

  it('the CLI exports the averaged model with --weights ema', async () => {
    const { model } = await midTraining();
    const dir = mkdtempSync(join(tmpdir(), 'wpt-ema-'));
    try {
      await model.save(join(dir, 'm.wpt'));
      const bin = join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js');
      const run = (...args: string[]) => spawnSync('node', [bin, ...args], { encoding: 'utf8' });
      const exported = run(
        'export',
        join(dir, 'm.wpt'),
        '--to',
        'safetensors',
        '--weights',
        'ema',
        '--out',
        join(dir, 'ema.safetensors'),
      );
      expect(exported.status, exported.stderr).toBe(0);
      const { parseSafetensors } = await import('../../src/node/index.js');
      const { readFileSync } = await import('node:fs');
      const tensors = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'ema.safetensors')))).tensors;
      expect(bits(tensors.get('layers.0.kernel')!.data)).toEqual(
        bits(model.optimizer!.averages.get('layers/0/kernel')!),
      );
      expect(run('export', join(dir, 'm.wpt'), '--to', 'onnx', '--weights', 'mean').stderr).toMatch(
        /--weights must be raw or ema, got 'mean'/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
