/** Custom layers (nn/layer.ts): a layer that holds library layers trains and saves them, as Keras tracks sublayers. */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Layer,
  Dense,
  Sequential,
  Adam,
  Random,
  Tensor,
  add,
  registerLayer,
  loadModel,
  randn,
  oneHot,
  ArgumentError,
  type CallContext,
  type LayerConfig,
  type SampleShape,
} from '../../src/node/index.js';

/** x + Dense(relu(Dense(x))): the residual block the README shows. */
class Residual extends Layer {
  readonly className = 'Residual';
  readonly inner: Dense;
  readonly outer: Dense;
  constructor(private readonly config: LayerConfig & { units: number }) {
    super(config);
    this.inner = new Dense({ units: config.units, activation: 'relu' });
    this.outer = new Dense({ units: config.units });
  }
  protected override createWeights(inputShape: SampleShape, rng: Random): void {
    this.outer.build(this.inner.build(inputShape, rng), rng);
  }
  outputShape(inputShape: SampleShape): SampleShape {
    return inputShape;
  }
  call(x: Tensor, ctx: CallContext): Tensor {
    return add(x, this.outer.call(this.inner.call(x, ctx), ctx));
  }
  getConfig() {
    return { units: this.config.units };
  }
}

/** A layer holding a list of layers. */
class Stack extends Layer {
  readonly className = 'Stack';
  readonly blocks: Residual[];
  constructor(private readonly config: LayerConfig & { units: number; depth: number }) {
    super(config);
    this.blocks = Array.from({ length: config.depth }, () => new Residual({ units: config.units }));
  }
  protected override createWeights(inputShape: SampleShape, rng: Random): void {
    for (const b of this.blocks) b.build(inputShape, rng);
  }
  outputShape(inputShape: SampleShape): SampleShape {
    return inputShape;
  }
  call(x: Tensor, ctx: CallContext): Tensor {
    return this.blocks.reduce((h, b) => b.call(h, ctx), x);
  }
  getConfig() {
    return { units: this.config.units, depth: this.config.depth };
  }
}
registerLayer('Residual', Residual as never);
registerLayer('Stack', Stack as never);

const model = () => {
  const m = new Sequential(
    [
      new Dense({ units: 6, activation: 'relu', inputShape: [4] }),
      new Stack({ units: 6, depth: 2 }),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
    { seed: 5 },
  );
  m.compile({ optimizer: new Adam({ learningRate: 0.05 }), loss: 'categoricalCrossentropy' });
  return m;
};
const rng = new Random(1);
const x = randn([48, 4], rng),
  y = oneHot(
    Array.from({ length: 48 }, (_, i) => i % 3),
    3,
  );

describe('layers holding layers', () => {
  it('their weights are tracked, counted, trained and named by the property that holds them', async () => {
    const m = model();
    const names = m.namedParams().map(([n]) => n);
    expect(names).toEqual([
      'layers/0/kernel',
      'layers/0/bias',
      'layers/1/blocks/0/inner/kernel',
      'layers/1/blocks/0/inner/bias',
      'layers/1/blocks/0/outer/kernel',
      'layers/1/blocks/0/outer/bias',
      'layers/1/blocks/1/inner/kernel',
      'layers/1/blocks/1/inner/bias',
      'layers/1/blocks/1/outer/kernel',
      'layers/1/blocks/1/outer/bias',
      'layers/2/kernel',
      'layers/2/bias',
    ]);
    expect(m.layers[1].countParams()).toBe(2 * 2 * (6 * 6 + 6));
    const before = m.layers[1].getWeights().map((w) => Array.from(w.data));
    await m.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
    const after = m.layers[1].getWeights().map((w) => Array.from(w.data));
    after.forEach((w, i) => expect(w, `nested weight ${i}`).not.toEqual(before[i]));
  });

  it('save → loadModel rebuilds them (registerLayer) with the same weights, and training continues bit-identically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpt-nested-'));
    try {
      const straight = model();
      await straight.fit(x, y, { epochs: 4, batchSize: 16, verbose: 0 });
      const first = model();
      await first.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
      await first.save(join(dir, 'm.wpt'));
      const again = (await loadModel(join(dir, 'm.wpt'))) as Sequential;
      expect(again.layers[1]).toBeInstanceOf(Stack);
      await again.fit(x, y, { epochs: 4, batchSize: 16, verbose: 0, initialEpoch: again.currentEpoch });
      const bits = (m: Sequential) =>
        m.getWeights().map((w) => Array.from(new Uint32Array(w.data.buffer, w.data.byteOffset, w.size)));
      expect(bits(again)).toEqual(bits(straight));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a sublayer left unbuilt is a clear error at build, not a silent untrained layer', () => {
    class Forgetful extends Residual {
      protected override createWeights(inputShape: SampleShape, rng: Random): void {
        this.inner.build(inputShape, rng);
      }
    }
    expect(() => new Sequential([new Forgetful({ units: 4, inputShape: [4] })])).toThrow(ArgumentError);
    expect(() => new Sequential([new Forgetful({ units: 4, inputShape: [4] })])).toThrow(
      /sublayer 'outer' \(Dense\) was not built: build each in createWeights/,
    );
  });
});
