/**
 * The layer contract, driven by the registry: every registered layer class, built from the
 * `example` it declares beside itself, keeps its config through getConfig → layerFromConfig,
 * predicts the same after save → loadModel, has the gradient finite differences give (float32,
 * central differences), and each exporter either maps it or refuses with a WaypointError naming
 * the layer and the format. A new layer is checked by declaring its example.
 */
import { describe, it, expect } from 'vitest';
import {
  MemoryStorage,
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

const EXPORTERS: Array<[string, RegExp, (m: Sequential) => unknown]> = [
  ['TensorFlow.js', /TensorFlow\.js/, (m) => exportTfjs(m)],
  ['ONNX', /ONNX/, (m) => exportOnnx(m)],
  ['safetensors (Keras layout)', /safetensors|Keras/, (m) => exportSafetensors(m, { layout: 'keras' })],
  ['safetensors (PyTorch layout)', /torch/, (m) => exportSafetensors(m, { layout: 'torch' })],
];

function inputFor(example: LayerExample, batch: number, rng: Random): Tensor {
  const n = batch * example.inputShape.reduce((a, b) => a * b, 1);
  const data =
    example.integerInputs === undefined
      ? rng.fillUniform(new Float32Array(n), -1, 1)
      : Float32Array.from({ length: n }, (_, i) => (i * 5 + 1) % example.integerInputs!);
  return new Tensor(data, [batch, ...example.inputShape]);
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
    const build = () =>
      new Sequential([new cls({ ...example.config, inputShape: example.inputShape } as never)], { seed: 3 });

    describe(name, () => {
      it('getConfig → layerFromConfig rebuilds the same layer', () => {
        const layer = build().layers[0];
        const again = layerFromConfig(serializeLayer(layer));
        expect(again.className).toBe(name);
        expect(again.getConfig()).toEqual(layer.getConfig());
      });

      it('save → loadModel predicts the same bits', async () => {
        const model = build();
        const storage = new MemoryStorage();
        await model.save('/m.wpt', { storage });
        const back = (await loadModel('/m.wpt', { storage })) as Sequential;
        const x = inputFor(example, 3, new Random(1));
        expect(Array.from(back.predict(x).data)).toEqual(Array.from(model.predict(x).data));
      });

      it('has the gradient central differences give, for its input and every weight', () => {
        const model = build();
        const layer = model.layers[0];
        const rng = new Random(7);
        const x = inputFor(example, 2, rng);
        const float = example.integerInputs === undefined;
        const probe = rng.fillUniform(new Float32Array(model.predict(x).size), -1, 1);
        const loss = () => {
          const y = layer.call(x, { training: false, rng: new Random(0) });
          return sum(mul(y, new Tensor(probe, y.shape)));
        };
        const targets: Tensor[] = [...(float ? [x] : []), ...layer.namedWeights().map(([, w]) => w)];
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
