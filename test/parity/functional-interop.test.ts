/**
 * Functional models through every exporter, checked by the real libraries: the torch-layout
 * safetensors and the generated nn.Module (with its forward) that PyTorch loaded strictly and
 * ran, the ONNX graph that onnx.checker accepted and ONNX Runtime ran (several named inputs and
 * outputs), the layers-model JSON that TensorFlow.js loads here, in this process; Keras-layout
 * and torch-layout round trips bit-exact. Goldens: harness/functional-cases.ts through
 * scripts/golden/{torch-cases.ts,torch_interop.py,onnx-cases.ts,onnx_check.py} (the live
 * reruns are in interop.test.ts).
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  Add,
  Dense,
  Flatten,
  Input,
  Model,
  Sequential,
  Tensor,
  exportOnnx,
  type FunctionalConfig,
  exportSafetensors,
  exportTfjs,
  importSafetensors,
  torchSource,
} from '../../src/node/index.js';
import { FUNCTIONAL_CASE_NAMES, functionalCase } from '../../harness/functional-cases.js';
import { expectClose } from '../helpers/close.js';

const root = join(import.meta.dirname, '..', '..');
const torchDir = join(root, 'test', 'golden', 'torch-interop');
const onnxDir = join(root, 'test', 'golden', 'onnx');
const torchGolden = JSON.parse(readFileSync(join(torchDir, 'torch.json'), 'utf8')) as {
  torch: string;
  cases: Record<string, { predictions: number[]; trainedPredictions: number[] }>;
};
const ort = JSON.parse(readFileSync(join(onnxDir, 'onnxruntime.json'), 'utf8')) as {
  onnxruntime: string;
  cases: Record<string, { outputs: number[]; firstAlone: number[] }>;
};
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
/** Every output's values, joined in order (as the reference scripts write them). */
const joined = (ys: Tensor[]) => ys.flatMap((y) => Array.from(y.data));
const firstRows = (ys: Tensor[]) => ys.flatMap((y) => Array.from(y.data.subarray(0, y.size / y.shape[0])));
/** The case's architecture with other initial weights: an import must fill every one. */
const fresh = (model: Model) => Model.fromConfig({ ...(model.getConfig() as FunctionalConfig), seed: 99 });

describe(`PyTorch (${torchGolden.torch}) runs a functional model's generated nn.Module`, () => {
  for (const name of FUNCTIONAL_CASE_NAMES) {
    it(`${name}: the export is the committed module and state_dict PyTorch loaded (strict) and predicted with (1e-5); PyTorch's trained weights import and predict as PyTorch`, async () => {
      const c = await functionalCase(name);
      const bytes = exportSafetensors(c.model, { layout: 'torch' });
      expect(Buffer.from(bytes).equals(readFileSync(join(torchDir, `${name}.safetensors`)))).toBe(true);
      expect(torchSource(c.model)).toBe(readFileSync(join(torchDir, `${name}.py`), 'utf8'));
      expectClose(joined(c.model.predictAll(c.xs)), torchGolden.cases[name].predictions, 1e-5, `${name} predictions`);

      const imported = fresh(c.model);
      const report = importSafetensors(
        imported,
        new Uint8Array(readFileSync(join(torchDir, `${name}.trained.safetensors`))),
        { layout: 'torch' },
      );
      expect(report).toEqual({ missing: [], unexpected: [], mismatched: [] });
      expectClose(joined(imported.predictAll(c.xs)), torchGolden.cases[name].trainedPredictions, 1e-5, name);
    });
  }

  it('a shared layer is one attribute called twice, a nested model its layers under its name', async () => {
    const source = torchSource((await functionalCase('residual-cnn')).model);
    expect(source.match(/self\.shared = /g)).toHaveLength(1);
    expect(source.match(/= self\.shared\(/g)).toHaveLength(2);
    const nested = torchSource((await functionalCase('two-inputs-two-outputs')).model);
    expect(nested).toMatch(/self\.block_0 = nn\.Sequential\(nn\.Linear\(4, 6, bias=True\), nn\.Tanh\(\)\)/);
    expect(nested).toMatch(/def forward\(self, features, ids\):/);
    expect(nested).toMatch(/return x\d+, x\d+/);
  });
});

describe(`ONNX Runtime (${ort.onnxruntime}) runs a functional model's graph`, () => {
  for (const name of FUNCTIONAL_CASE_NAMES) {
    it(`${name}: the export is the committed graph onnx.checker (full) accepted; ONNX Runtime's outputs by name, batch of 4 and of 1 (1e-5)`, async () => {
      const c = await functionalCase(name);
      expect(Buffer.from(exportOnnx(c.model)).equals(readFileSync(join(onnxDir, `${name}.onnx`)))).toBe(true);
      const ours = c.model.predictAll(c.xs);
      expectClose(joined(ours), ort.cases[name].outputs, 1e-5, `${name} ONNX Runtime`);
      expectClose(firstRows(ours), ort.cases[name].firstAlone, 1e-5, `${name} ONNX Runtime, batch of 1`);
    });
  }

  it("a shared layer's weights are one initializer", async () => {
    const onnx = Buffer.from(exportOnnx((await functionalCase('residual-cnn')).model)).toString('latin1');
    expect(onnx.split('layers.shared.kernel').length - 1).toBe(3); // the initializer and the two Conv nodes reading it
  });
});

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('exportTfjs of a functional model → tf.loadLayersModel', () => {
  const load = (a: ReturnType<typeof exportTfjs>) =>
    tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: a.modelJson.modelTopology,
        weightSpecs: a.modelJson.weightsManifest[0].weights,
        weightData: a.weightData.slice().buffer,
      }),
    );

  for (const name of FUNCTIONAL_CASE_NAMES) {
    it(`${name}: TensorFlow.js rebuilds the graph (inputs, outputs, shared calls) and predicts what Waypoint predicts (1e-5), or the export names the layer it lacks`, async () => {
      const c = await functionalCase(name);
      if (c.model.layers.some((l) => l.className === 'Subtract')) {
        expect(() => exportTfjs(c.model)).toThrow(
          /TensorFlow\.js export: Subtract 'difference' has no TensorFlow\.js equivalent/,
        );
        return;
      }
      const loaded = await load(exportTfjs(c.model));
      expect(loaded.inputs.map((t) => t.shape)).toEqual(c.model.inputShapes().map((s) => [null, ...s]));
      const theirs = loaded.predict(c.xs.map((x) => tf.tensor(x.data, x.shape))) as tf.Tensor | tf.Tensor[];
      const list = Array.isArray(theirs) ? theirs : [theirs];
      expect(list.length).toBe(c.model.outputNames.length);
      expectClose(
        joined(c.model.predictAll(c.xs)),
        list.flatMap((t) => Array.from(t.dataSync())),
        1e-5,
        name,
      );
    }, 30_000);
  }
});

describe('safetensors round trips of functional models', () => {
  for (const layout of ['keras', 'torch'] as const)
    it(`${layout} layout: export → import into a fresh model is bit-exact for every case`, async () => {
      for (const name of FUNCTIONAL_CASE_NAMES) {
        const c = await functionalCase(name);
        const target = fresh(c.model);
        expect(importSafetensors(target, exportSafetensors(c.model, { layout }), { layout })).toEqual({
          missing: [],
          unexpected: [],
          mismatched: [],
        });
        expect(
          target.getWeights().map((w) => bits(w.data)),
          name,
        ).toEqual(c.model.getWeights().map((w) => bits(w.data)));
      }
    });

  it("keras layout keys a functional model's weights by layer name, a nested model's under its own", async () => {
    const { model } = await functionalCase('two-inputs-two-outputs');
    const { parseSafetensors } = await import('../../src/node/index.js');
    const keys = [...parseSafetensors(exportSafetensors(model)).tensors.keys()];
    expect(keys).toContain('layers.block.layers.0.kernel');
    expect(keys).toContain('layers.embed.embeddings');
    expect(keys).toContain('layers.score.bias');
  });
});

describe('exporters refuse what their format cannot hold, naming the layer and why', () => {
  it('a merge of flattened images (whose feature order differs between NHWC and NCHW)', () => {
    const x = Input({ shape: [2, 2, 3] });
    const flat = new Flatten({ name: 'flat' }).apply(x);
    const y = new Add({ name: 'sum' }).apply([flat, new Dense({ units: 12, name: 'proj' }).apply(flat)]);
    const model = new Model({ inputs: x, outputs: y });
    expect(() => exportOnnx(model)).toThrow(/ONNX export: layers\/sum \(Add 'sum'\) merges flattened images/);
    expect(() => exportSafetensors(model, { layout: 'torch' })).toThrow(
      /torch layout: layers\/sum \(Add 'sum'\) merges flattened images/,
    );
  });

  it('a Sequential keeps its single-stack exports byte for byte (the chain is still nn.Sequential, `input` → `output`)', () => {
    const model = new Sequential([new Dense({ units: 2, inputShape: [3], name: 'd' })], { seed: 1 });
    expect(torchSource(model)).toMatch(/model = nn\.Sequential\(\n {4}nn\.Linear\(3, 2, bias=True\),\n\)/);
    const onnx = Buffer.from(exportOnnx(model)).toString('latin1');
    expect(onnx).toContain('layers.0.kernel');
    expect(exportTfjs(model).modelJson.modelTopology.class_name).toBe('Sequential');
  });
});
