/**
 * TensorFlow.js both ways (issue 21 item 3): `exportTfjs` loads in the real
 * `tf.loadLayersModel` and predicts what Waypoint predicts, for every case whose layers
 * TensorFlow.js has; a model built and trained in TensorFlow.js imports with `importTfjs`
 * (and `waypoint import --from tfjs`) and predicts what TensorFlow.js predicts; export →
 * import is bit-exact.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, exportTfjs, importTfjs, loadModel } from '../../src/node/index.js';
import { INTEROP_CASE_NAMES, interopCase } from '../../harness/interop-cases.js';
import { expectClose } from '../helpers/close.js';

beforeAll(async () => { await tf.setBackend('cpu'); });
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const load = (a: { modelJson: Record<string, any>; weightData: Uint8Array }) => tf.loadLayersModel(tf.io.fromMemory({
  modelTopology: a.modelJson.modelTopology, weightSpecs: a.modelJson.weightsManifest[0].weights, weightData: a.weightData.slice().buffer,
}));

describe('exportTfjs → tf.loadLayersModel', () => {
  for (const name of INTEROP_CASE_NAMES) {
    it(`${name}: TensorFlow.js predicts what Waypoint predicts (1e-5), or the export names the layer it cannot express`, async () => {
      const c = await interopCase(name);
      if (c.model.layers.some((l) => l.className === 'GRU')) {
        expect(() => exportTfjs(c.model)).toThrow(/GRU.*has no TensorFlow\.js equivalent \(TensorFlow\.js's GRU has no resetAfter\)/);
        return;
      }
      const loaded = await load(exportTfjs(c.model));
      const theirs = (loaded.predict(tf.tensor(c.x.data, c.x.shape)) as tf.Tensor).dataSync();
      expectClose(c.model.predict(c.x).data, theirs, 1e-5, `${name} in TensorFlow.js`);
      const back = importTfjs(exportTfjs(c.model).modelJson, exportTfjs(c.model).weightData);
      expect(back.getWeights().map((w) => bits(w.data))).toEqual(c.model.getWeights().map((w) => bits(w.data)));
      expect(back.getConfig().layers.map((l) => l.className)).toEqual(c.model.getConfig().layers.map((l) => l.className));
    }, 30_000);
  }
});

/** A TensorFlow.js model with most of the layers both have, trained a few steps there. */
async function trainedInTfjs() {
  const model = tf.sequential({ layers: [
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
  ] });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
  const x = tf.randomUniform([16, 6, 6, 2], -1, 1, 'float32', 3);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 2), 'int32'), 2);
  await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler(async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
  const a = saved! as tf.io.ModelArtifacts;
  return { model, x, modelJson: { modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }, weightData: new Uint8Array(a.weightData as ArrayBuffer) };
}

describe('a model trained in TensorFlow.js → importTfjs', () => {
  it('rebuilds the Sequential with its weights (batch statistics included) and predicts what TensorFlow.js predicts (1e-5)', async () => {
    const t = await trainedInTfjs();
    const ours = importTfjs(t.modelJson, t.weightData);
    expect(ours.getConfig().layers.map((l) => l.className)).toEqual(['Conv2D', 'BatchNormalization', 'MaxPool2D', 'AveragePooling2D', 'Flatten', 'Dense', 'Reshape', 'LayerNormalization', 'LSTM', 'Dropout', 'Dense']);
    const x = new Tensor(t.x.dataSync() as Float32Array, [16, 6, 6, 2]);
    expectClose(ours.predict(x).data, (t.model.predict(t.x) as tf.Tensor).dataSync(), 1e-5, 'TensorFlow.js-trained model');
  }, 30_000);

  it('waypoint import --from tfjs writes a model file that loads and predicts the same', async () => {
    const t = await trainedInTfjs();
    const dir = mkdtempSync(join(tmpdir(), 'wpt-tfjs-'));
    try {
      mkdirSync(join(dir, 'm'));
      writeFileSync(join(dir, 'm', 'model.json'), JSON.stringify(t.modelJson));
      writeFileSync(join(dir, 'm', 'weights.bin'), t.weightData);
      const run = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js'), 'import', join(dir, 'm', 'model.json'), '--from', 'tfjs', '--out', join(dir, 'm.wpt')], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const x = new Tensor(t.x.dataSync() as Float32Array, [16, 6, 6, 2]);
      expectClose((await loadModel(join(dir, 'm.wpt'))).predict(x).data, (t.model.predict(t.x) as tf.Tensor).dataSync(), 1e-5, 'imported by the CLI');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('refuses what Waypoint cannot do, naming the layer', async () => {
    const m = tf.sequential({ layers: [tf.layers.lstm({ inputShape: [3, 2], units: 2, goBackwards: true, recurrentActivation: 'sigmoid' })] });
    let saved: tf.io.ModelArtifacts | null = null;
    await m.save(tf.io.withSaveHandler(async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
    const a = saved! as tf.io.ModelArtifacts;
    expect(() => importTfjs({ modelTopology: a.modelTopology, weightsManifest: [{ paths: [], weights: a.weightSpecs }] }, new Uint8Array(a.weightData as ArrayBuffer)))
      .toThrow(/layer 'lstm_LSTM\d+' \(LSTM\) has go_backwards: true, which Waypoint does not do/);
    const hard = tf.sequential({ layers: [tf.layers.lstm({ inputShape: [3, 2], units: 2 })] });
    await hard.save(tf.io.withSaveHandler(async (b) => { saved = b; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
    const b = saved! as tf.io.ModelArtifacts;
    expect(() => importTfjs({ modelTopology: b.modelTopology, weightsManifest: [{ paths: [], weights: b.weightSpecs }] }, new Uint8Array(b.weightData as ArrayBuffer)))
      .toThrow(/has recurrent_activation 'hard_sigmoid' \(TensorFlow\.js's default for recurrent layers\)/);
  });
});
