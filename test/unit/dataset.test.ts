/**
 * Datasets as tfjs-data documents them (batch with and without a small last batch, shuffle
 * covering each element once a pass, repeat/take/skip counts, zip of nested containers,
 * prefetch order), and the promise of their iterators: a position taken anywhere, through
 * JSON, continues with exactly the elements that were still to come.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  Dataset,
  DataError,
  ShapeError,
  Tensor,
  data,
  decodeValue,
  encodeValue,
  type DatasetIterator,
} from '../../src/node/index.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const plain = (v: unknown): unknown =>
  v instanceof Tensor ? { shape: v.shape, data: Array.from(v.data) } : Array.isArray(v) ? v.map(plain) : v;

async function drain<T>(it: DatasetIterator<T>, max = Infinity): Promise<T[]> {
  const out: T[] = [];
  while (out.length < max) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

/** The position as a checkpoint carries it: encoded to JSON text and back. */
const throughJson = (p: unknown) => decodeValue(JSON.parse(JSON.stringify(encodeValue(p))));

describe('transformations, as tfjs-data', () => {
  it('batch: groups of n, the small last one kept unless smallLastBatch is false; size follows', async () => {
    const ds = data.array(range(10));
    const sizes = async (d: Dataset<any>) => (await d.toArray()).map((t: Tensor) => t.shape[0]);
    expect(await sizes(ds.batch(3))).toEqual([3, 3, 3, 1]);
    expect(await sizes(ds.batch(3, false))).toEqual([3, 3, 3]);
    expect(ds.batch(3).size).toBe(4);
    expect(ds.batch(3, false).size).toBe(3);
    expect(Array.from(((await ds.batch(4).toArray())[2] as Tensor).data)).toEqual([8, 9]);
  });

  it('batch stacks nested elements key by key: numbers → [n], rows → [n, k], tensors → [n, ...shape], strings → lists', async () => {
    const items = range(3).map((i) => ({
      x: [i, i + 1],
      y: i,
      t: new Tensor(Float32Array.of(i, -i, 2 * i, 0), [2, 2]),
      tag: `r${i}`,
    }));
    const [b] = (await data.array(items).batch(3).toArray()) as any[];
    expect(b.x.shape).toEqual([3, 2]);
    expect(Array.from(b.x.data)).toEqual([0, 1, 1, 2, 2, 3]);
    expect(b.y.shape).toEqual([3]);
    expect(b.t.shape).toEqual([3, 2, 2]);
    expect(Array.from(b.t.data.subarray(4, 8))).toEqual([1, -1, 2, 0]);
    expect(b.tag).toEqual(['r0', 'r1', 'r2']);
  });

  it('batch of elements whose shapes differ is a ShapeError naming the element and the key', async () => {
    const ds = data.array([{ x: [1, 2] }, { x: [1, 2] }, { x: [1, 2, 3] }]).batch(3);
    const e = await ds.toArray().catch((err) => err);
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/element\.x 2 of the batch/);
    const missing = await data
      .array([{ a: 1 }, { b: 2 }])
      .batch(2)
      .toArray()
      .catch((err) => err);
    expect(missing.message).toMatch(/element 1 of the batch has no key 'a'/);
  });

  it('shuffle gives every element exactly once a pass; a seed fixes the order; reshuffleEachIteration gives each pass its own', async () => {
    const ds = data.array(range(100));
    const pass = async (d: Dataset<number>) => d.toArray();
    const seeded = ds.shuffle(10, 7);
    const [a, b] = [await pass(seeded), await pass(seeded)];
    expect([...a].sort((x, y) => x - y)).toEqual(range(100));
    expect([...b].sort((x, y) => x - y)).toEqual(range(100));
    expect(a).not.toEqual(range(100));
    expect(b).not.toEqual(a);
    expect(await pass(ds.shuffle(10, 7))).toEqual(a); // the same seed, the same first pass
    const fixed = ds.shuffle(10, 7, false);
    expect(await pass(fixed)).toEqual(await pass(fixed));
    // A buffer of 10 moves an element at most so far ahead: the first output is among the first 10.
    expect(a[0]).toBeLessThan(10);
  });

  it('repeat, take and skip count as documented, sizes included', async () => {
    const ds = data.array([1, 2, 3]);
    expect(await ds.repeat(2).toArray()).toEqual([1, 2, 3, 1, 2, 3]);
    expect(ds.repeat(2).size).toBe(6);
    expect(ds.repeat().size).toBe(Infinity);
    expect(await ds.repeat().take(7).toArray()).toEqual([1, 2, 3, 1, 2, 3, 1]);
    expect(await ds.take(2).toArray()).toEqual([1, 2]);
    expect(await ds.take(10).toArray()).toEqual([1, 2, 3]);
    expect(await ds.skip(2).toArray()).toEqual([3]);
    expect(await ds.skip(5).toArray()).toEqual([]);
    expect(ds.skip(5).size).toBe(0);
    expect(await ds.repeat(0).toArray()).toEqual([]);
    expect(await data.array([]).repeat().take(3).toArray()).toEqual([]); // an empty pass ends an endless repeat
    await expect(ds.repeat().toArray()).rejects.toThrow(/endless/);
  });

  it('zip joins nested lists and objects of datasets, and ends with the shortest', async () => {
    const a = data.array([1, 2, 3]),
      b = data.array(['x', 'y']),
      c = data.array([[0], [1], [2]]);
    const zipped = data.zip({ first: a, rest: [b, { deep: c }] });
    expect(zipped.size).toBe(2);
    expect(await zipped.toArray()).toEqual([
      { first: 1, rest: ['x', { deep: [0] }] },
      { first: 2, rest: ['y', { deep: [1] }] },
    ]);
  });

  it('map, mapAsync, filter, concatenate and prefetch keep the order', async () => {
    const ds = data.array(range(20));
    expect(await ds.map((x) => x * 2).toArray()).toEqual(range(20).map((x) => x * 2));
    expect(await ds.mapAsync(async (x) => x + 1).toArray()).toEqual(range(20).map((x) => x + 1));
    expect(await ds.filter((x) => x % 3 === 0).toArray()).toEqual([0, 3, 6, 9, 12, 15, 18]);
    expect(ds.filter(() => true).size).toBeNull();
    expect(
      await ds
        .take(3)
        .concatenate(data.array([99]))
        .toArray(),
    ).toEqual([0, 1, 2, 99]);
    expect(await ds.prefetch(4).toArray()).toEqual(range(20));
    const seen: number[] = [];
    await ds.take(4).forEachAsync((x) => void seen.push(x));
    expect(seen).toEqual([0, 1, 2, 3]);
  });

  it('generator: sync and async generator functions, a pass per iterator, a throw as a DataError naming the element', async () => {
    const sync = data.generator(function* () {
      for (let i = 0; i < 4; i++) yield i;
    });
    expect(await sync.toArray()).toEqual([0, 1, 2, 3]);
    expect(await sync.toArray()).toEqual([0, 1, 2, 3]);
    const asyncGen = data.generator(async function* () {
      yield 'a';
      yield 'b';
    });
    expect(await asyncGen.toArray()).toEqual(['a', 'b']);
    const broken = data.generator(function* () {
      yield 1;
      throw new Error('sensor offline');
    });
    const e = await broken.toArray().catch((err) => err);
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/threw producing element 1: sensor offline/);
  });

  it('a generator without a state of its own is replayed to resume, with a warning; with stateDict/loadStateDict it continues without replaying', async () => {
    let calls = 0;
    const warnings: string[] = [];
    const replayed = data.generator(
      function* () {
        for (let i = 0; i < 6; i++) {
          calls++;
          yield i;
        }
      },
      { warn: (m) => warnings.push(m) },
    );
    const it = await replayed.iterator();
    await drain(it, 4);
    calls = 0;
    expect(await drain(await replayed.iterator(throughJson(it.position())))).toEqual([4, 5]);
    expect(calls).toBe(6); // 4 replayed, 2 new
    expect(warnings.join()).toMatch(/cannot seek: replaying 4 elements/);

    let next = 0;
    const seekable = data.generator(
      function* () {
        for (; next < 6;) yield next++;
      },
      { stateDict: () => next, loadStateDict: (s) => (next = s as number) },
    );
    const it2 = await seekable.iterator();
    await drain(it2, 3);
    const at = throughJson(it2.position());
    next = 0; // a new process: the generator's own state is gone until loaded
    expect(await drain(await seekable.iterator(at))).toEqual([3, 4, 5]);
  });
});

/** A random pipeline over an array, made of the transformations that keep state between elements. */
type Step =
  | ['map']
  | ['filter', number]
  | ['batch', number, boolean]
  | ['shuffle', number, number]
  | ['take', number]
  | ['skip', number]
  | ['repeat', number]
  | ['prefetch', number]
  | ['concatenate']
  | ['zip'];

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.constant(['map'] as Step),
  fc.tuple(fc.constant('filter' as const), fc.integer({ min: 2, max: 4 })),
  fc.tuple(fc.constant('batch' as const), fc.integer({ min: 1, max: 5 }), fc.boolean()),
  fc.tuple(fc.constant('shuffle' as const), fc.integer({ min: 1, max: 8 }), fc.nat()),
  fc.tuple(fc.constant('take' as const), fc.integer({ min: 0, max: 40 })),
  fc.tuple(fc.constant('skip' as const), fc.integer({ min: 0, max: 10 })),
  fc.tuple(fc.constant('repeat' as const), fc.integer({ min: 1, max: 3 })),
  fc.tuple(fc.constant('prefetch' as const), fc.integer({ min: 1, max: 4 })),
  fc.constant(['concatenate'] as Step),
  fc.constant(['zip'] as Step),
);

/** `lastBatch`: the step of the whole pipeline whose batches may end small (a concatenated prefix keeps the whole's). */
function pipeline(n: number, steps: Step[], lastBatch = steps.map((s) => s[0]).lastIndexOf('batch')): Dataset<any> {
  let ds: Dataset<any> = data.array(range(n));
  // A small last batch batched again is a ShapeError (its shape differs): only the last batch step may keep one.
  for (const [k, s] of steps.entries()) {
    switch (s[0]) {
      case 'map':
        ds = ds.map((v: unknown) => [v, 1]);
        break;
      case 'filter':
        ds = ds.filter((v: unknown) => JSON.stringify(plain(v)).length % s[1] !== 0);
        break;
      case 'batch':
        ds = ds.batch(s[1], s[2] && k === lastBatch);
        break;
      case 'shuffle':
        ds = ds.shuffle(s[1], s[2]);
        break;
      case 'take':
        ds = ds.take(s[1]);
        break;
      case 'skip':
        ds = ds.skip(s[1]);
        break;
      case 'repeat':
        ds = ds.repeat(s[1]);
        break;
      case 'prefetch':
        ds = ds.prefetch(s[1]);
        break;
      case 'concatenate':
        // More elements of the same structure: the same steps so far, over a shorter array.
        ds = ds.concatenate(pipeline(3, steps.slice(0, k), lastBatch));
        break;
      case 'zip':
        ds = data.zip([ds, data.array(range(1000)).shuffle(5, 3)]);
        break;
    }
  }
  return ds;
}

describe('saved positions', () => {
  it('skip(n) then the rest is the whole', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 35 }), async (n, k) => {
        const ds = data.array(range(n)).shuffle(4, 9, false);
        expect([...(await ds.take(k).toArray()), ...(await ds.skip(k).toArray())]).toEqual(await ds.toArray());
      }),
    );
  });

  it('an iterator restored from its position (through JSON) continues identically, at any point of any chain', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 30 }),
        fc.array(stepArb, { maxLength: 5 }),
        fc.nat({ max: 60 }),
        async (n, steps, cut) => {
          // Two identical pipelines: one runs through, the other is cut, saved and resumed.
          const whole = await drain(await pipeline(n, steps).iterator());
          const cutDs = pipeline(n, steps);
          const it = await cutDs.iterator();
          const before = await drain(it, cut);
          const saved = JSON.stringify({ position: encodeValue(it.position()), passes: cutDs.stateDict() });
          const fresh = pipeline(n, steps);
          const { position, passes } = JSON.parse(saved);
          fresh.loadStateDict(passes);
          const after = await drain(await fresh.iterator(decodeValue(position)));
          expect([...before, ...after].map(plain)).toEqual(whole.map(plain));
        },
      ),
      {
        numRuns: 200,
        // Once found: a concatenated prefix must keep small last batches only where the whole pipeline does.
        examples: [
          [18, [['batch', 3, false], ['batch', 3, true], ['concatenate'], ['batch', 3, false]], 0],
          [
            2,
            [
              ['shuffle', 2, 1046592456],
              ['repeat', 2],
              ['prefetch', 2],
            ],
            2,
          ],
        ],
      },
    );
  });

  it('a later pass of a reshuffling shuffle restored from the dataset state is the pass an unbroken run gives', async () => {
    const ds = data.array(range(30)).shuffle(8, 4);
    await ds.toArray();
    const state = JSON.parse(JSON.stringify(ds.stateDict()));
    const secondPass = await ds.toArray();
    const again = data.array(range(30)).shuffle(8, 4);
    again.loadStateDict(state);
    expect(await again.toArray()).toEqual(secondPass);
    expect(() => data.array([1]).loadStateDict(state)).toThrow(/pipeline of 2 datasets, this one has 1/);
  });

  it('positions encode elements exactly: tensors by their bits, NaN and infinities by name', () => {
    const t = new Tensor(Float32Array.of(NaN, -0, 1e-45, 3.4e38), [2, 2]);
    const v = throughJson({ t, n: [NaN, Infinity, -Infinity, 0.1], f: Float32Array.of(1.5), u: undefined }) as any;
    expect(v.t.shape).toEqual([2, 2]);
    expect(new Uint32Array(v.t.data.buffer)).toEqual(new Uint32Array(t.data.buffer));
    expect(v.n).toEqual([NaN, Infinity, -Infinity, 0.1]);
    expect(v.f).toEqual(Float32Array.of(1.5));
    expect('u' in v && v.u === undefined).toBe(true);
  });
});
