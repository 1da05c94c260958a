/**
 * The layer contract, driven by the registry: every registered layer class, built from the
 * `example` it declares beside itself, keeps its config through getConfig → layerFromConfig,
 * predicts the same after save → loadModel, has the gradient finite differences give (float32,
 * central differences), and each exporter either maps it or refuses with a WaypointError naming
 * the layer and the format. A new layer is checked by declaring its example.
 */
import { describe, it, expect } from 'vitest';
import {
  Input,
  MemoryStorage,
  Model,
  Random,
  Sequential,
  Tensor,
  WaypointError,
  exportOnnx,
  exportSafetensors,
  exportTfjs,
  loadModel,
  mul,
  sum,
} from '../../src/node/index.js';
import { layerFromConfig, registeredLayers, serializeLayer } from '../../src/nn/registry.js';
import { Layer, type LayerExample } from '../../src/nn/layer.js';
import { InputLayer, inputTensor } from '../../src/nn/layers/input.js';

const EXPORTERS: Array<[string, RegExp, (m: Model) => unknown]> = [
  ['TensorFlow.js', /TensorFlow\.js/, (m) => exportTfjs(m)],
  ['ONNX', /ONNX/, (m) => exportOnnx(m)],
  ['safetensors (Keras layout)', /safetensors|Keras/, (m) => exportSafetensors(m, { layout: 'keras' })],
  ['safetensors (PyTorch layout)', /torch/, (m) => exportSafetensors(m, { layout: 'torch' })],
];

function inputShapesOf(example: LayerExample): number[][] {
  return example.inputShapes ?? [example.inputShape];
}

/** A batch for each of the example's inputs. */
function inputsFor(example: LayerExample, batch: number, rng: Random): Tensor[] {
  return inputShapesOf(example).map((shape) => {
    const n = batch * shape.reduce((a, b) => a * b, 1);
    const data =
      example.integerInputs === undefined
        ? rng.fillUniform(new Float32Array(n), -1, 1)
        : Float32Array.from({ length: n }, (_, i) => (i * 5 + 1) % example.integerInputs!);
    return new Tensor(data, [batch, ...shape]);
  });
}

/**
 * A model of the one layer: a Sequential where it takes one input, else (a merge, an Input) a
 * functional model over an Input per input, so every path a user meets the layer on is checked.
 */
function modelOf(cls: (typeof layers)[number][1], example: LayerExample): { model: Model; layer: Layer } {
  if (cls === InputLayer) {
    const x = new InputLayer(example.config as never);
    return { model: new Model({ inputs: inputTensor(x), outputs: inputTensor(x), seed: 3 }), layer: x };
  }
  if (example.inputShapes === undefined) {
    const model = new Sequential([new cls({ ...example.config, inputShape: example.inputShape } as never)], {
      seed: 3,
    });
    return { model, layer: model.layers[0] };
  }
  const layer = new cls(example.config as never);
  const inputs = example.inputShapes.map((shape) => Input({ shape }));
  return { model: new Model({ inputs, outputs: layer.apply(inputs), seed: 3 }), layer };
}

const layers = registeredLayers();

describe('the layer contract', () => {
  it('every registered layer declares an example', () => {
    expect(layers.filter(([, cls]) => cls.example === undefined).map(([name]) => name)).toEqual([]);
  });

  it('a custom layer no format knows is refused by every exporter, naming the layer and the format', () => {
    class Doubler extends Layer {
      readonly className = 'Doubler';
      outputShape(shape: number[]) {
        return shape;
      }
      call(x: Tensor) {
        return mul(x, 2);
      }
      getConfig() {
        return { name: this.name, inputShape: this.inputShape };
      }
    }
    const model = new Sequential([new Doubler({ name: 'twice', inputShape: [3] })]);
    // safetensors in Keras's layout is only the weights, by name: any layer maps to it.
    for (const [format, names, run] of EXPORTERS.filter(([f]) => !f.includes('Keras'))) {
      const e = (() => {
        try {
          run(model);
        } catch (err) {
          return err;
        }
      })();
      expect(e, `${format} exported a layer it cannot know`).toBeInstanceOf(WaypointError);
      expect((e as Error).message).toContain("Doubler 'twice'");
      expect((e as Error).message).toMatch(names);
    }
  });

  for (const [name, cls] of layers.filter(([, c]) => c.example !== undefined)) {
    const example = cls.example!;
    const build = () => modelOf(cls, example).model;

    describe(name, () => {
      it('getConfig → layerFromConfig rebuilds the same layer', () => {
        const { layer } = modelOf(cls, example);
        const again = layerFromConfig(serializeLayer(layer));
        expect(again.className).toBe(name);
        expect(again.getConfig()).toEqual(layer.getConfig());
      });

      it('save → loadModel predicts the same bits', async () => {
        const model = build();
        const storage = new MemoryStorage();
        await model.save('/m.wpt', { storage });
        const back = await loadModel('/m.wpt', { storage });
        const xs = inputsFor(example, 3, new Random(1));
        expect(back.className).toBe(model.className);
        expect(Array.from(back.predictAll(xs)[0].data)).toEqual(Array.from(model.predictAll(xs)[0].data));
      });

      it('has the gradient central differences give, for its input and every weight', () => {
        const { model, layer } = modelOf(cls, example);
        const rng = new Random(7);
        const xs = inputsFor(example, 2, rng);
        const float = example.integerInputs === undefined;
        const probe = rng.fillUniform(new Float32Array(model.predictAll(xs)[0].size), -1, 1);
        const loss = () => {
          const [y] = layer.callFor(xs, { training: false, rng: new Random(0) });
          return sum(mul(y, new Tensor(probe, y.shape)));
        };
        const targets: Tensor[] = [...(float ? xs : []), ...layer.namedWeights().map(([, w]) => w)];
        for (const t of targets) {
          t.requiresGrad = true;
          t.grad = null;
        }
        for (const w of layer.namedWeights()) w[1].grad = null;
        loss().backward();
        for (const [ti, t] of targets.entries()) {
          const grad = t.grad!.data;
          for (let k = 0; k < Math.min(t.size, 6); k++) {
            const i = (k * 7919) % t.size;
            const saved = t.data[i],
              eps = 1e-2;
            t.data[i] = saved + eps;
            const up = loss().data[0];
            t.data[i] = saved - eps;
            const down = loss().data[0];
            t.data[i] = saved;
            const numeric = (up - down) / (2 * eps);
            expect(
              Math.abs(numeric - grad[i]),
              `${name} target ${ti} [${i}]: numeric ${numeric}, autograd ${grad[i]}`,
            ).toBeLessThanOrEqual(2e-2 * Math.max(1, Math.abs(numeric)));
          }
        }
      });

      for (const [format, names, run] of EXPORTERS) {
        it(`${format} maps it, or refuses naming the layer and the format`, () => {
          try {
            run(build());
          } catch (e) {
            expect(e, String(e)).toBeInstanceOf(WaypointError);
            expect((e as Error).message).toContain(name);
            expect((e as Error).message).toMatch(names);
          }
        });
      }
    });
  }
});
