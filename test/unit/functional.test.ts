/**
 * The Functional API: graphs of layers from Inputs to outputs, their errors, shared layers and
 * nested models, data by position or by name, and everything Sequential has — save and load,
 * weights, config, summary, fitDataset — through the same paths.
 */
import { describe, it, expect } from 'vitest';
import { flattenState } from '../../src/state/tree.js';
import { readFileIfExists } from '../../src/storage/storage.js';
import {
  Add,
  Concatenate,
  Dense,
  Embedding,
  Flatten,
  Input,
  CSVLogger,
  EarlyStopping,
  MemoryStorage,
  Model,
  ModelCheckpoint,
  TensorBoard,
  readRun,
  Random,
  Sequential,
  ShapeError,
  Tensor,
  data,
  loadModel,
  type FunctionalConfig,
} from '../../src/node/index.js';

const stateKeys = (m: Model) => flattenState(m.stateDict()).map((leaf) => leaf.key);
const bits = (t: Tensor) => Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.size));
const randomTensor = (shape: number[], seed: number, lo = -1, hi = 1) =>
  new Tensor(new Random(seed).fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1)), lo, hi), shape);
const ids = (n: number, len: number, below: number) =>
  new Tensor(
    Float32Array.from({ length: n * len }, (_, i) => (i * 7 + 3) % below),
    [n, len],
  );

/** Features beside embedded ids, two heads: the model apps that embed a trainer have. */
function twoHeads(seed = 1): Model {
  const features = Input({ shape: [4], name: 'features' });
  const category = Input({ shape: [2], name: 'category' });
  const embedded = new Flatten().apply(new Embedding({ inputDim: 5, outputDim: 3 }).apply(category));
  const h = new Dense({ units: 8, activation: 'relu', name: 'hidden' }).apply(
    new Concatenate().apply([features, embedded]),
  );
  const kind = new Dense({ units: 3, activation: 'softmax', name: 'kind' }).apply(h);
  const score = new Dense({ units: 1, name: 'score' }).apply(h);
  return new Model({ inputs: [features, category], outputs: [kind, score], seed });
}

function twoHeadsData(n: number) {
  const x = { features: randomTensor([n, 4], 2), category: ids(n, 2, 5) };
  const labels = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) labels[i * 3 + (i % 3)] = 1;
  const y = { kind: new Tensor(labels, [n, 3]), score: randomTensor([n, 1], 3) };
  return { x, y };
}

const compileTwoHeads = (m: Model) =>
  m.compile({
    optimizer: 'adam',
    loss: { kind: 'categoricalCrossentropy', score: 'mse' },
    metrics: { kind: ['accuracy'] },
    lossWeights: { score: 0.5 },
  });

describe('building a graph', () => {
  it('a residual block: output = x + Dense(x), its prediction is exactly that sum', () => {
    const x = Input({ shape: [3] });
    const dense = new Dense({ units: 3 });
    const model = new Model({ inputs: x, outputs: new Add().apply([x, dense.apply(x)]), seed: 4 });
    const input = randomTensor([2, 3], 5);
    const direct = dense.call(input, { training: false, rng: new Random(0) });
    const y = model.predict(input) as Tensor;
    expect(Array.from(y.data)).toEqual(Array.from(direct.data).map((v, i) => Math.fround(v + input.data[i])));
  });

  it('a layer applied twice shares its weights: one set in the model, both calls read them', () => {
    const a = Input({ shape: [2] });
    const b = Input({ shape: [2] });
    const shared = new Dense({ units: 2, name: 'shared' });
    const model = new Model({ inputs: [a, b], outputs: [shared.apply(a), shared.apply(b)], seed: 1 });
    expect(model.getWeights()).toHaveLength(2);
    expect(stateKeys(model)).toEqual(['layers/shared/kernel', 'layers/shared/bias']);
    const x = randomTensor([3, 2], 9);
    const [ya, yb] = model.predictAll([x, x]);
    expect(bits(ya)).toEqual(bits(yb));
  });

  it('a model is a layer: a Sequential and a functional model nested in a bigger one share their weights with it', () => {
    const block = new Sequential([new Dense({ units: 4, activation: 'tanh', inputShape: [3] })], { name: 'block' });
    const innerIn = Input({ shape: [4] });
    const head = new Model({ inputs: innerIn, outputs: new Dense({ units: 2 }).apply(innerIn), name: 'head' });
    const x = Input({ shape: [3] });
    const model = new Model({ inputs: x, outputs: head.apply(block.apply(x)), seed: 2 });
    const input = randomTensor([5, 3], 1);
    expect(bits(model.predict(input) as Tensor)).toEqual(bits(head.predict(block.predict(input)) as Tensor));
    expect(stateKeys(model)).toEqual([
      'layers/block/layers/0/kernel',
      'layers/block/layers/0/bias',
      'layers/head/layers/dense/kernel',
      'layers/head/layers/dense/bias',
    ]);
  });

  it('names are given Keras-style where none was asked for, and are unique', () => {
    const x = Input({ shape: [2] });
    const y = new Dense({ units: 2 }).apply(new Dense({ units: 2 }).apply(x));
    const model = new Model({ inputs: x, outputs: y });
    expect(model.layers.map((l) => l.name)).toEqual(['input_layer', 'dense', 'dense_1']);
  });
});

describe('clear errors', () => {
  it('a layer called on tensors of incompatible shapes names the layer and both shapes', () => {
    const a = Input({ shape: [3] });
    const b = Input({ shape: [4] });
    expect(() => new Add({ name: 'sum' }).apply([a, b])).toThrow(ShapeError);
    expect(() => new Add({ name: 'sum' }).apply([a, b])).toThrow(/Add 'sum'.*\[3\].*\[4\]/);
    expect(() =>
      new Concatenate({ axis: -1, name: 'join' }).apply([Input({ shape: [2, 3] }), Input({ shape: [3, 3] })]),
    ).toThrow(/Concatenate 'join'.*\[2,\s?3\].*\[3,\s?3\].*axis -1/);
  });

  it('a shared layer called on another shape names the shapes', () => {
    const shared = new Dense({ units: 2, name: 'shared' });
    shared.apply(Input({ shape: [3] }));
    expect(() => shared.apply(Input({ shape: [5] }))).toThrow(/Dense 'shared'.*3.*5|Dense 'shared'.*5.*3/);
  });

  it('outputs that do not depend on the inputs, an unused input, a tensor that is not from Input', () => {
    const a = Input({ shape: [2], name: 'a' });
    const b = Input({ shape: [2], name: 'b' });
    const fromB = new Dense({ units: 1 }).apply(b);
    expect(() => new Model({ inputs: a, outputs: fromB })).toThrow(/depend on Input 'b'.*not among the model's inputs/);
    const fromA = new Dense({ units: 1 }).apply(a);
    expect(() => new Model({ inputs: [a, b], outputs: fromA })).toThrow(/inputs\[1\] \(b\) is not used by any output/);
    expect(() => new Model({ inputs: fromA, outputs: fromA })).toThrow(
      /inputs\[0\] is the output of Dense.*not a tensor from Input/,
    );
  });

  it('a saved graph with a cycle (a node reading what a later node makes) is refused, naming the tensor', () => {
    const x = Input({ shape: [2], name: 'x' });
    const a = new Dense({ units: 2, name: 'a' }).apply(x);
    const model = new Model({ inputs: x, outputs: new Dense({ units: 2, name: 'b' }).apply(a) });
    const config = JSON.parse(JSON.stringify(model.getConfig())) as FunctionalConfig;
    config.nodes[1].inputs = [['b', 0, 0]]; // a reads b's output, b reads a's
    expect(() => Model.fromConfig(config)).toThrow(
      /reads b\[0\]\[0\] before it is made \(a cycle, or a damaged config\)/,
    );
  });

  it('duplicate layer names', () => {
    const x = Input({ shape: [2] });
    const y = new Dense({ units: 2, name: 'same' }).apply(new Dense({ units: 2, name: 'same' }).apply(x));
    expect(() => new Model({ inputs: x, outputs: y })).toThrow(
      /two layers are named 'same' \(Dense 'same' and Dense 'same'\): layer names must be unique/,
    );
  });

  it('apply given a Tensor says to build a model and predict', () => {
    expect(() => new Dense({ units: 1 }).apply(randomTensor([1, 2], 1) as never)).toThrow(
      /takes symbolic tensors.*build a Model and call predict/,
    );
  });

  it('fit given the wrong number of inputs, or an unknown input name, names the inputs it has', async () => {
    const model = twoHeads();
    compileTwoHeads(model);
    const { x, y } = twoHeadsData(6);
    await expect(model.fit([x.features], y, { verbose: 0 })).rejects.toThrow(
      /x lists 1 tensors, but the model has 2 inputs \(features, category\)/,
    );
    await expect(model.fit({ ...x, extra: x.features }, y, { verbose: 0 })).rejects.toThrow(
      /x names unknown input 'extra' \(the model's inputs: features, category\)/,
    );
    await expect(model.fit(x, { kind: y.kind }, { verbose: 0 })).rejects.toThrow(/y has no tensor for output 'score'/);
    expect(() => model.compile({ optimizer: 'sgd', loss: { kinds: 'mse' } as never })).toThrow(
      /unknown output 'kinds' \(outputs: kind, score\)/,
    );
  });
});

describe('training several inputs and outputs', () => {
  it("fit takes lists or objects alike (same bits); History has Keras's keys", async () => {
    const { x, y } = twoHeadsData(24);
    const byName = twoHeads();
    compileTwoHeads(byName);
    const h1 = await byName.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, validationSplit: 0.25 });
    const byPosition = twoHeads();
    compileTwoHeads(byPosition);
    const h2 = await byPosition.fit([x.features, x.category], [y.kind, y.score], {
      epochs: 2,
      batchSize: 8,
      verbose: 0,
      validationSplit: 0.25,
    });
    expect(Object.keys(h1.history).sort()).toEqual(
      [
        'loss',
        'kind_loss',
        'score_loss',
        'kind_accuracy',
        'val_loss',
        'val_kind_loss',
        'val_score_loss',
        'val_kind_accuracy',
      ].sort(),
    );
    expect(h1.history).toEqual(h2.history);
    expect(byName.getWeights().map(bits)).toEqual(byPosition.getWeights().map(bits));
    // The total is the weighted sum of the outputs' losses (0.5 on score).
    const logs = await byName.evaluate(x, y, { batchSize: 24 });
    expect(logs.loss).toBeCloseTo(logs.kind_loss + 0.5 * logs.score_loss, 5);
  });

  it('fitDataset takes elements { xs: { name: tensor }, ys: { name: tensor } } and trains as fit does', async () => {
    const { x, y } = twoHeadsData(16);
    const rows = Array.from({ length: 16 }, (_, i) => ({
      xs: { features: x.features.data.slice(i * 4, i * 4 + 4), category: x.category.data.slice(i * 2, i * 2 + 2) },
      ys: { kind: y.kind.data.slice(i * 3, i * 3 + 3), score: y.score.data.slice(i, i + 1) },
    }));
    const viaDataset = twoHeads();
    compileTwoHeads(viaDataset);
    const ds = data.array(rows).batch(8);
    const h = await viaDataset.fitDataset(ds, { epochs: 2, verbose: 0 });
    const viaFit = twoHeads();
    compileTwoHeads(viaFit);
    const h2 = await viaFit.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
    expect(h.history.loss).toEqual(h2.history.loss);
    expect(viaDataset.getWeights().map(bits)).toEqual(viaFit.getWeights().map(bits));
  });
});

describe('everything Sequential has', () => {
  it('save → loadModel rebuilds the graph: the same predictions, and training continues to the same bits', async () => {
    const { x, y } = twoHeadsData(16);
    const model = twoHeads();
    compileTwoHeads(model);
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    const storage = new MemoryStorage();
    await model.save('/m.wpt', { storage });
    const back = await loadModel('/m.wpt', { storage });
    expect(back.className).toBe('Functional');
    expect(back.inputNames).toEqual(['features', 'category']);
    expect(back.outputNames).toEqual(['kind', 'score']);
    expect(back.predictAll(x).map(bits)).toEqual(model.predictAll(x).map(bits));
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    await back.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    expect(back.getWeights().map(bits)).toEqual(model.getWeights().map(bits));
  });

  it('getConfig → fromConfig is the same graph (config equal, weights by name)', () => {
    const model = twoHeads();
    const config = model.getConfig() as FunctionalConfig;
    const again = Model.fromConfig(JSON.parse(JSON.stringify(config)));
    expect(again.getConfig()).toEqual(config);
    again.setWeights(model.getWeights());
    const { x } = twoHeadsData(3);
    expect(again.predictAll(x).map(bits)).toEqual(model.predictAll(x).map(bits));
  });

  it('the weights are keyed by layer name, not by construction order', () => {
    const build = (order: 'ab' | 'ba') => {
      const x = Input({ shape: [2], name: 'x' });
      const a = new Dense({ units: 2, name: 'a' });
      const b = new Dense({ units: 2, name: 'b' });
      const [first, second] = order === 'ab' ? [a, b] : [b, a];
      const y = new Add().apply([first.apply(x), second.apply(x)]);
      return new Model({ inputs: x, outputs: y });
    };
    const keys = (m: Model) => stateKeys(m).sort();
    expect(keys(build('ab'))).toEqual(keys(build('ba')));
    expect(keys(build('ab'))).toContain('layers/a/kernel');
  });

  it('summary prints Keras\'s table with "Connected to", a shared layer once', () => {
    const a = Input({ shape: [2], name: 'a' });
    const b = Input({ shape: [2], name: 'b' });
    const shared = new Dense({ units: 3, name: 'shared' });
    const model = new Model({
      inputs: [a, b],
      outputs: new Add({ name: 'sum' }).apply([shared.apply(a), shared.apply(b)]),
    });
    const lines: string[] = [];
    model.summary((l) => lines.push(l));
    const text = lines.join('\n');
    expect(text).toMatch(/Layer \(type\)\s+Output Shape\s+Param #\s+Connected to/);
    expect(text.match(/shared \(Dense\)/g)).toHaveLength(1);
    expect(text).toMatch(/shared \(Dense\)\s+\(None, 3\)\s+9\s+a\[0\]\[0\]\n\s+b\[0\]\[0\]/);
    expect(text).toMatch(/sum \(Add\)\s+\(None, 3\)\s+0\s+shared\[0\]\[0\]\n\s+shared\[1\]\[0\]/);
    expect(text).toMatch(/Total params: 9/);
  });

  it("every callback takes a functional model's logs by Keras's keys: ModelCheckpoint by val_kind_accuracy, EarlyStopping, CSVLogger, TensorBoard with the graph", async () => {
    const { x, y } = twoHeadsData(24);
    const model = twoHeads();
    compileTwoHeads(model);
    const storage = new MemoryStorage();
    await model.fit(x, y, {
      epochs: 4,
      batchSize: 8,
      verbose: 0,
      validationSplit: 0.25,
      callbacks: [
        new ModelCheckpoint({
          filepath: '/ckpt/{epoch:02d}-{val_kind_accuracy:.2f}.wpt',
          monitor: 'val_kind_accuracy',
          saveBestOnly: true,
          storage,
        }),
        new EarlyStopping({ monitor: 'val_score_loss', patience: 10, restoreBestWeights: true }),
        new CSVLogger('/log.csv', { storage }),
        new TensorBoard({ logDir: '/tb', storage }),
      ],
    });
    const saved = (await storage.list('/ckpt')).filter((f) => f.endsWith('.wpt'));
    expect(saved.length).toBeGreaterThan(0);
    expect(saved[0]).toMatch(/^01-\d\.\d\d\.wpt$/);
    const csv = new TextDecoder().decode((await readFileIfExists(storage, '/log.csv'))!);
    expect(csv.split('\n')[0]).toBe(
      'epoch,kind_accuracy,kind_loss,loss,score_loss,val_kind_accuracy,val_kind_loss,val_loss,val_score_loss',
    );
    expect(csv.trim().split('\n')).toHaveLength(5);
    const train = await readRun(storage, '/tb', 'train');
    expect([...train.scalars.keys()]).toEqual(
      expect.arrayContaining(['epoch_loss', 'epoch_kind_loss', 'epoch_kind_accuracy']),
    );
    const graph = JSON.parse([...train.graphs.values()][0][0].value) as {
      class_name: string;
      config: { output_layers: unknown[] };
    };
    expect(graph.class_name).toBe('Functional');
    expect(graph.config.output_layers).toEqual([
      ['kind', 0, 0],
      ['score', 0, 0],
    ]);
    const back = await loadModel(`/ckpt/${saved.at(-1)}`, { storage });
    expect(back.outputNames).toEqual(['kind', 'score']);
  });
});
