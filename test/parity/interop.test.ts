/**
 * PyTorch-layout safetensors: every mapped layer exports to the
 * state_dict of its documented nn.Sequential, which PyTorch loads with strict=True and
 * predicts the same with; a model PyTorch trained imports back and predicts what PyTorch
 * predicts; export → import is bit-exact in both layouts; bad files and mismatches are
 * typed errors naming the tensor. Goldens: scripts/golden/torch-cases.ts +
 * scripts/golden/torch_interop.py (committed under test/golden/torch-interop); where
 * .venv-ref has torch and safetensors, the live check reruns them.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CheckpointError,
  Dense,
  SafetensorsError,
  Sequential,
  encodeSafetensors,
  exportSafetensors,
  importSafetensors,
  parseSafetensors,
  torchSource,
  Tensor,
  exportTfjs,
  importTfjs,
  loadModel,
} from '../../src/node/index.js';
import { INTEROP_CASE_NAMES, interopCase } from '../../harness/interop-cases.js';
import { FUNCTIONAL_CASE_NAMES, functionalCase } from '../../harness/functional-cases.js';
import { expectClose } from '../helpers/close.js';
import * as tf from '@tensorflow/tfjs';
const root = join(import.meta.dirname, '..', '..');
const goldenDir = join(root, 'test', 'golden', 'torch-interop');
const golden = JSON.parse(readFileSync(join(goldenDir, 'torch.json'), 'utf8')) as {
  torch: string;
  cases: Record<string, { predictions: number[]; trainedPredictions: number[] }>;
};
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
/** A fresh model of a case's architecture, weights not trained (another seed): imports must fill every weight. */
const fresh = async (name: string) => {
  const c = await interopCase(name);
  const again = Sequential.fromConfig({ ...c.model.getConfig(), seed: 99 });
  again.build(c.model.inputShapeOf());
  return again;
};

describe(`PyTorch (${golden.torch}) loads Waypoint's torch-layout safetensors and Waypoint loads PyTorch's`, () => {
  for (const name of INTEROP_CASE_NAMES) {
    it(`${name}: the export is the committed file PyTorch loaded (strict) and predicts as PyTorch did; PyTorch's trained weights import and predict as PyTorch (1e-5)`, async () => {
      const c = await interopCase(name);
      const bytes = exportSafetensors(c.model, { layout: 'torch' });
      expect(Buffer.from(bytes).equals(readFileSync(join(goldenDir, `${name}.safetensors`)))).toBe(true);
      expect(torchSource(c.model)).toBe(readFileSync(join(goldenDir, `${name}.py`), 'utf8'));
      expectClose(c.model.predict(c.x).data, golden.cases[name].predictions, 1e-5, `${name} predictions`);

      const imported = await fresh(name);
      const report = importSafetensors(
        imported,
        new Uint8Array(readFileSync(join(goldenDir, `${name}.trained.safetensors`))),
        { layout: 'torch' },
      );
      expect(report).toEqual({ missing: [], unexpected: [], mismatched: [] });
      expectClose(
        imported.predict(c.x).data,
        golden.cases[name].trainedPredictions,
        1e-5,
        `${name} after PyTorch trained it`,
      );
    });
  }

  for (const layout of ['keras', 'torch'] as const) {
    it(`${layout} layout: export → import is bit-exact for every case`, async () => {
      for (const name of INTEROP_CASE_NAMES) {
        const c = await interopCase(name);
        const target = await fresh(name);
        importSafetensors(target, exportSafetensors(c.model, { layout }), { layout });
        expect(
          target.getWeights().map((w) => bits(w.data)),
          name,
        ).toEqual(c.model.getWeights().map((w) => bits(w.data)));
      }
    });
  }
});

describe('safetensors errors name the problem', () => {
  const model = () => new Sequential([new Dense({ units: 2, inputShape: [3] })], { seed: 1 });

  it('strict import refuses missing, unexpected and mis-shaped tensors by name and changes nothing; strict: false loads what matches', () => {
    const m = model();
    const before = m.getWeights().map((w) => bits(w.data));
    const file = (tensors: Array<{ name: string; shape: number[] }>) =>
      encodeSafetensors(
        tensors.map((t) => ({ ...t, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)).fill(0.5) })),
      );
    const missing = file([{ name: '0.weight', shape: [2, 3] }]);
    expect(() => importSafetensors(m, missing, { layout: 'torch' })).toThrow(
      /MISSING_KEYS: missing from the file: 0\.bias/,
    );
    const extra = file([
      { name: '0.weight', shape: [2, 3] },
      { name: '0.bias', shape: [2] },
      { name: '1.weight', shape: [1] },
    ]);
    expect(() => importSafetensors(m, extra, { layout: 'torch' })).toThrow(/UNEXPECTED_KEYS: not expected: 1\.weight/);
    const shaped = file([
      { name: '0.weight', shape: [3, 2] },
      { name: '0.bias', shape: [2] },
    ]);
    const err = (() => {
      try {
        importSafetensors(m, shaped, { layout: 'torch' });
      } catch (e) {
        return e as CheckpointError;
      }
    })();
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err!.message).toMatch(/0\.weight: expected \[2,3\], file has \[3,2\]/);
    expect(m.getWeights().map((w) => bits(w.data))).toEqual(before);
    expect(importSafetensors(m, shaped, { layout: 'torch', strict: false })).toEqual({
      missing: [],
      unexpected: [],
      mismatched: ['0.weight'],
    });
    expect(Array.from(m.getWeights()[1].data)).toEqual([0.5, 0.5]);
  });

  it('bad files: header length, JSON, offsets, overlap, dtype', () => {
    const good = exportSafetensors(model());
    expect(() => parseSafetensors(good.subarray(0, 5))).toThrow(SafetensorsError);
    const long = good.slice();
    new DataView(long.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => parseSafetensors(long)).toThrow(/header is said to be 1099511627776 bytes/);
    expect(() => parseSafetensors(good.subarray(0, good.length - 4))).toThrow(
      /'layers\.0\.(kernel|bias)'.*data_offsets|end at byte/,
    );
    const header = (json: string) => {
      const h = new TextEncoder().encode(json);
      const out = new Uint8Array(8 + h.length + 8);
      new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
      out.set(h, 8);
      return out;
    };
    expect(() =>
      parseSafetensors(
        header(
          '{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}',
        ),
      ),
    ).toThrow(/'b' starts at byte 4 .*expected|'a' starts/);
    expect(() => parseSafetensors(header('{"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}'))).toThrow(
      /'a' has dtype C64/,
    );
    expect(() => parseSafetensors(header('{not json'))).toThrow(/not UTF-8 JSON/);
  });

  it('a layer torch cannot express is refused naming the layer and why', async () => {
    const { Conv2D } = await import('../../src/node/index.js');
    const m = new Sequential([
      new Conv2D({ filters: 2, kernelSize: 1, inputShape: [3, 3, 1] }),
      new Dense({ units: 2 }),
    ]);
    expect(() => exportSafetensors(m, { layout: 'torch' })).toThrow(
      /torch layout: layers\/1 \(Dense\) acts on the channel axis of images/,
    );
  });
});

const python = join(root, '.venv-ref', 'bin', 'python');
const probe = existsSync(python) ? spawnSync(python, ['-c', 'import torch, safetensors'], { encoding: 'utf8' }) : null;
const live = probe?.status === 0;
if (!live)
  console.warn(
    'SKIPPED the live PyTorch interop check: .venv-ref has no torch/safetensors; the committed goldens stand',
  );

describe.runIf(live)('live: PyTorch loads what Waypoint exports today', () => {
  it('every case, fresh from the generator, through the real torch and safetensors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpt-torch-'));
    try {
      const make = spawnSync(
        join(root, 'node_modules', '.bin', 'tsx'),
        [join(root, 'scripts', 'golden', 'torch-cases.ts'), dir],
        { encoding: 'utf8' },
      );
      expect(make.status, make.stderr).toBe(0);
      const run = spawnSync(python, [join(root, 'scripts', 'golden', 'torch_interop.py'), dir], {
        encoding: 'utf8',
        timeout: 300_000,
      });
      expect(run.status, run.stderr).toBe(0);
      const now = JSON.parse(readFileSync(join(dir, 'torch.json'), 'utf8')) as typeof golden;
      for (const name of INTEROP_CASE_NAMES) {
        const c = await interopCase(name);
        expectClose(c.model.predict(c.x).data, now.cases[name].predictions, 1e-5, `${name} live`);
        const imported = await fresh(name);
        importSafetensors(imported, new Uint8Array(readFileSync(join(dir, `${name}.trained.safetensors`))), {
          layout: 'torch',
        });
        expectClose(
          imported.predict(c.x).data,
          now.cases[name].trainedPredictions,
          1e-5,
          `${name} live, trained by PyTorch`,
        );
      }
      for (const name of FUNCTIONAL_CASE_NAMES) {
        const c = await functionalCase(name);
        const ours = c.model.predictAll(c.xs).flatMap((y) => Array.from(y.data));
        expectClose(ours, now.cases[name].predictions, 1e-5, `${name} live`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('waypoint export --layout torch and waypoint import', () => {
  it('export writes the state_dict and its nn.Sequential source; import puts the weights back into the architecture bit for bit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpt-import-'));
    try {
      const c = await interopCase('cnn');
      await c.model.save(join(dir, 'm.wpt'));
      const cli = (...args: string[]) =>
        spawnSync(process.execPath, [join(root, 'bin', 'waypoint.js'), ...args], { encoding: 'utf8' });
      const exported = cli(
        'export',
        join(dir, 'm.wpt'),
        '--to',
        'safetensors',
        '--layout',
        'torch',
        '--out',
        join(dir, 'm.safetensors'),
      );
      expect(exported.status, exported.stderr).toBe(0);
      expect(readFileSync(join(dir, 'm.py'), 'utf8')).toBe(torchSource(c.model));
      const other = await fresh('cnn');
      other.compile({ optimizer: 'sgd', loss: 'mse' });
      await other.save(join(dir, 'other.wpt'));
      const imported = cli(
        'import',
        join(dir, 'm.safetensors'),
        '--from',
        'safetensors',
        '--layout',
        'torch',
        '--like',
        join(dir, 'other.wpt'),
        '--out',
        join(dir, 'back.wpt'),
      );
      expect(imported.status, imported.stderr).toBe(0);
      const { loadModel } = await import('../../src/node/index.js');
      const back = await loadModel(join(dir, 'back.wpt'));
      expect(back.getWeights().map((w) => bits(w.data))).toEqual(c.model.getWeights().map((w) => bits(w.data)));
      const onnx = cli('export', join(dir, 'm.wpt'), '--to', 'onnx', '--out', join(dir, 'm.onnx'));
      expect(onnx.status, onnx.stderr).toBe(0);
      const { exportOnnx } = await import('../../src/node/index.js');
      expect(readFileSync(join(dir, 'm.onnx')).equals(Buffer.from(exportOnnx(c.model)))).toBe(true);
      expect(
        cli('export', join(dir, 'm.wpt'), '--to', 'onnx', '--opset', '12', '--out', join(dir, 'x.onnx')).stderr,
      ).toMatch(/opset must be an integer of at least 13, got 12/);
      const wrong = cli(
        'import',
        join(dir, 'm.safetensors'),
        '--from',
        'safetensors',
        '--like',
        join(dir, 'other.wpt'),
        '--out',
        join(dir, 'x.wpt'),
      );
      expect(wrong.status).toBe(1);
      expect(wrong.stderr).toMatch(/MISSING_KEYS: missing from the file: layers\.0\.kernel/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ONNX export: the ONNX checker accepts it and ONNX Runtime predicts what Waypoint predicts', () => {
  const onnxDir = join(root, 'test', 'golden', 'onnx');
  const ort = JSON.parse(readFileSync(join(onnxDir, 'onnxruntime.json'), 'utf8')) as {
    onnxruntime: string;
    cases: Record<string, { outputs: number[]; firstAlone: number[] }>;
  };
  for (const name of INTEROP_CASE_NAMES) {
    it(`${name}: the export is the committed file that passed onnx.checker (full) and ran in ONNX Runtime ${ort.onnxruntime}, batch of 4 and of 1 (1e-5)`, async () => {
      const { exportOnnx } = await import('../../src/node/index.js');
      const c = await interopCase(name);
      expect(Buffer.from(exportOnnx(c.model)).equals(readFileSync(join(onnxDir, `${name}.onnx`)))).toBe(true);
      const ours = c.model.predict(c.x).data;
      expectClose(ours, ort.cases[name].outputs, 1e-5, `${name} ONNX Runtime`);
      expectClose(
        ours.subarray(0, ort.cases[name].firstAlone.length),
        ort.cases[name].firstAlone,
        1e-5,
        `${name} ONNX Runtime, batch of 1`,
      );
    });
  }
});

const onnxProbe = existsSync(python)
  ? spawnSync(python, ['-c', 'import onnx, onnxruntime'], { encoding: 'utf8' })
  : null;
const onnxLive = onnxProbe?.status === 0;
if (!onnxLive)
  console.warn('SKIPPED the live ONNX check: .venv-ref has no onnx/onnxruntime; the committed goldens stand');

describe.runIf(onnxLive)('live: the ONNX checker and ONNX Runtime on what Waypoint exports today', () => {
  it('every case', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpt-onnx-'));
    try {
      const make = spawnSync(
        join(root, 'node_modules', '.bin', 'tsx'),
        [join(root, 'scripts', 'golden', 'onnx-cases.ts'), dir],
        { encoding: 'utf8' },
      );
      expect(make.status, make.stderr).toBe(0);
      const run = spawnSync(python, [join(root, 'scripts', 'golden', 'onnx_check.py'), dir], {
        encoding: 'utf8',
        timeout: 300_000,
      });
      expect(run.status, run.stderr).toBe(0);
      const now = JSON.parse(readFileSync(join(dir, 'onnxruntime.json'), 'utf8')) as {
        cases: Record<string, { outputs: number[] }>;
      };
      for (const name of INTEROP_CASE_NAMES)
        expectClose(
          (await interopCase(name)).model.predict((await interopCase(name)).x).data,
          now.cases[name].outputs,
          1e-5,
          `${name} live`,
        );
      for (const name of FUNCTIONAL_CASE_NAMES) {
        const c = await functionalCase(name);
        const ours = c.model.predictAll(c.xs).flatMap((y) => Array.from(y.data));
        expectClose(ours, now.cases[name].outputs, 1e-5, `${name} live`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

beforeAll(async () => {
  await tf.setBackend('cpu');
});
const tfjsBits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const load = (a: { modelJson: Record<string, any>; weightData: Uint8Array }) =>
  tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: a.modelJson.modelTopology,
      weightSpecs: a.modelJson.weightsManifest[0].weights,
      weightData: a.weightData.slice().buffer,
    }),
  );

describe('exportTfjs → tf.loadLayersModel', () => {
  for (const name of INTEROP_CASE_NAMES) {
    it(`${name}: TensorFlow.js predicts what Waypoint predicts (1e-5), or the export names the layer it cannot express`, async () => {
      const c = await interopCase(name);
      if (c.model.layers.some((l) => l.className === 'GRU')) {
        expect(() => exportTfjs(c.model)).toThrow(
          /GRU.*has no TensorFlow\.js equivalent \(TensorFlow\.js's GRU has no resetAfter\)/,
        );
        return;
      }
      const loaded = await load(exportTfjs(c.model));
      const theirs = (loaded.predict(tf.tensor(c.x.data, c.x.shape)) as tf.Tensor).dataSync();
      expectClose(c.model.predict(c.x).data, theirs, 1e-5, `${name} in TensorFlow.js`);
      const back = importTfjs(exportTfjs(c.model).modelJson, exportTfjs(c.model).weightData);
      expect(back.getWeights().map((w) => tfjsBits(w.data))).toEqual(c.model.getWeights().map((w) => tfjsBits(w.data)));
      expect(back.getConfig().layers.map((l) => l.className)).toEqual(
        c.model.getConfig().layers.map((l) => l.className),
      );
    }, 30_000);
  }
});

/** A TensorFlow.js model with most of the layers both have, trained a few steps there. */
async function trainedInTfjs() {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.batchNormalization(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.averagePooling2d({ poolSize: 1 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 8, activation: 'tanh' }),
      tf.layers.reshape({ targetShape: [2, 4] }),
      tf.layers.layerNormalization(),
      tf.layers.lstm({ units: 3, recurrentActivation: 'sigmoid' }), // TensorFlow.js's default hard_sigmoid is refused, by name (below)
      tf.layers.dropout({ rate: 0.1 }),
      tf.layers.dense({ units: 2, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
  const x = tf.randomUniform([16, 6, 6, 2], -1, 1, 'float32', 3);
  const y = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: 16 }, (_, i) => i % 2),
      'int32',
    ),
    2,
  );
  await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = saved! as tf.io.ModelArtifacts;
  return {
    model,
    x,
    modelJson: {
      modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
    },
    weightData: new Uint8Array(a.weightData as ArrayBuffer),
  };
}

describe('a model trained in TensorFlow.js → importTfjs', () => {
  it('rebuilds the Sequential with its weights (batch statistics included) and predicts what TensorFlow.js predicts (1e-5)', async () => {
    const t = await trainedInTfjs();
    const ours = importTfjs(t.modelJson, t.weightData);
    expect(ours.getConfig().layers.map((l) => l.className)).toEqual([
      'Conv2D',
      'BatchNormalization',
      'MaxPool2D',
      'AveragePooling2D',
      'Flatten',
      'Dense',
      'Reshape',
      'LayerNormalization',
      'LSTM',
      'Dropout',
      'Dense',
    ]);
    const x = new Tensor(t.x.dataSync() as Float32Array, [16, 6, 6, 2]);
    expectClose(
      ours.predict(x).data,
      (t.model.predict(t.x) as tf.Tensor).dataSync(),
      1e-5,
      'TensorFlow.js-trained model',
    );
  }, 30_000);

  it('waypoint import --from tfjs writes a model file that loads and predicts the same', async () => {
    const t = await trainedInTfjs();
    const dir = mkdtempSync(join(tmpdir(), 'wpt-tfjs-'));
    try {
      mkdirSync(join(dir, 'm'));
      writeFileSync(join(dir, 'm', 'model.json'), JSON.stringify(t.modelJson));
      writeFileSync(join(dir, 'm', 'weights.bin'), t.weightData);
      const run = spawnSync(
        process.execPath,
        [
          join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js'),
          'import',
          join(dir, 'm', 'model.json'),
          '--from',
          'tfjs',
          '--out',
          join(dir, 'm.wpt'),
        ],
        { encoding: 'utf8' },
      );
      expect(run.status, run.stderr).toBe(0);
      const x = new Tensor(t.x.dataSync() as Float32Array, [16, 6, 6, 2]);
      expectClose(
        ((await loadModel(join(dir, 'm.wpt'))) as Sequential).predict(x).data,
        (t.model.predict(t.x) as tf.Tensor).dataSync(),
        1e-5,
        'imported by the CLI',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('refuses what Waypoint cannot do, naming the layer', async () => {
    const m = tf.sequential({
      layers: [tf.layers.lstm({ inputShape: [3, 2], units: 2, goBackwards: true, recurrentActivation: 'sigmoid' })],
    });
    let saved: tf.io.ModelArtifacts | null = null;
    await m.save(
      tf.io.withSaveHandler(async (a) => {
        saved = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const a = saved! as tf.io.ModelArtifacts;
    expect(() =>
      importTfjs(
        { modelTopology: a.modelTopology, weightsManifest: [{ paths: [], weights: a.weightSpecs }] },
        new Uint8Array(a.weightData as ArrayBuffer),
      ),
    ).toThrow(/layer 'lstm_LSTM\d+' \(LSTM\) has go_backwards: true, which Waypoint does not do/);
    const hard = tf.sequential({ layers: [tf.layers.lstm({ inputShape: [3, 2], units: 2 })] });
    await hard.save(
      tf.io.withSaveHandler(async (b) => {
        saved = b;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const b = saved! as tf.io.ModelArtifacts;
    expect(() =>
      importTfjs(
        { modelTopology: b.modelTopology, weightsManifest: [{ paths: [], weights: b.weightSpecs }] },
        new Uint8Array(b.weightData as ArrayBuffer),
      ),
    ).toThrow(/has recurrent_activation 'hard_sigmoid' \(TensorFlow\.js's default for recurrent layers\)/);
  });
});
