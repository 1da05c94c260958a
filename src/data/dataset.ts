/**
 * `Dataset<T>`: a recipe for a stream of elements, as tfjs-data's, whose iterators can say
 * where they stand. `iterator()` starts a pass; `iterator(position)` continues one at the
 * element after the one a `position()` was taken at, without reading what came before:
 * each source seeks (an array by index, a file by byte offset, a URL by a range request) and
 * each transformation keeps what it needs (a shuffle its buffer and generator state). A fit
 * saves the position with its backups and a resumed fit continues at the next sample.
 */
import { ArgumentError } from '../errors.js';
import { Random } from '../tensor/random.js';
import type { JsonValue, StateDict } from '../state/tree.js';
import type { Trackable } from '../state/trackable.js';
import { type DataElement, stack } from './element.js';

/**
 * Where an iterator stands, taken right after the element it last gave: a snapshot (a
 * shuffle's buffer as a copied list of its elements), cheap to take after every batch;
 * `encodeValue` turns it into exact JSON for a checkpoint.
 */
export type Position = unknown;

export interface DatasetIterator<T> {
  next(): Promise<IteratorResult<T, undefined>>;
  /** Where the iterator stands: `dataset.iterator(position)` continues at the next element. */
  position(): Position;
}

const DONE: IteratorResult<never, undefined> = { done: true, value: undefined };
const some = <T>(value: T): IteratorResult<T, undefined> => ({ done: false, value });

function count(where: string, name: string, n: number, allowInfinity = false): number {
  if (!((Number.isInteger(n) && n >= 0) || (allowInfinity && n === Infinity)))
    throw new ArgumentError(`${where}: ${name} must be a non-negative integer, got ${n}`);
  return n;
}

/** A size after an operation: null (unknown) stays unknown. */
const sized = (n: number | null, f: (n: number) => number): number | null => (n === null ? null : f(n));

export abstract class Dataset<T> implements Trackable {
  /** Elements in one pass: a number, Infinity (repeat() forever) or null when unknown (a filter, a generator, a file). */
  abstract readonly size: number | null;
  /** The datasets this one reads (their own state is saved with it). */
  protected readonly upstreams: ReadonlyArray<Dataset<unknown>> = [];

  /** A new pass over the data, or with `position` the pass an iterator was in, continued at its next element. */
  abstract iterator(position?: Position): Promise<DatasetIterator<T>>;

  /** State the dataset itself keeps from pass to pass (a reshuffling shuffle's count of passes); null when none. */
  protected ownState(): JsonValue {
    return null;
  }
  protected loadOwnState(_state: JsonValue): void {}

  private nodes(): Array<Dataset<unknown>> {
    return [this as Dataset<unknown>, ...this.upstreams.flatMap((u) => u.nodes())];
  }

  /** Trackable: what every dataset of the pipeline keeps between passes (not a pass's position: an iterator has that). */
  stateDict(): StateDict {
    return { passes: this.nodes().map((n) => n.ownState()) };
  }

  loadStateDict(state: StateDict): void {
    const nodes = this.nodes();
    const saved = state.passes;
    if (!Array.isArray(saved) || saved.length !== nodes.length)
      throw new ArgumentError(
        `Dataset.loadStateDict: the saved state is of a pipeline of ${Array.isArray(saved) ? saved.length : '?'} datasets, this one has ${nodes.length}`,
      );
    nodes.forEach((n, i) => n.loadOwnState(saved[i]));
  }

  map<U>(transform: (value: T) => U): Dataset<U> {
    return derived(this, this.size, async (position) => {
      const it = await this.iterator(position);
      return {
        next: async () => {
          const r = await it.next();
          return r.done ? DONE : some(transform(r.value));
        },
        position: () => it.position(),
      };
    });
  }

  mapAsync<U>(transform: (value: T) => Promise<U>): Dataset<U> {
    return derived(this, this.size, async (position) => {
      const it = await this.iterator(position);
      return {
        next: async () => {
          const r = await it.next();
          return r.done ? DONE : some(await transform(r.value));
        },
        position: () => it.position(),
      };
    });
  }

  filter(predicate: (value: T) => boolean): Dataset<T> {
    return derived(this, null, async (position) => {
      const it = await this.iterator(position);
      return {
        next: async () => {
          for (;;) {
            const r = await it.next();
            if (r.done || predicate(r.value)) return r;
          }
        },
        position: () => it.position(),
      };
    });
  }

  /**
   * Groups `batchSize` elements into one (`stack`: numbers and numeric arrays and Tensors
   * become a Tensor with a leading batch dimension, objects key by key); the last, smaller
   * group is kept unless `smallLastBatch` is false.
   */
  batch(batchSize: number, smallLastBatch = true): Dataset<DataElement> {
    if (!(Number.isInteger(batchSize) && batchSize > 0))
      throw new ArgumentError(`batch: batchSize must be a positive integer, got ${batchSize}`);
    const size = sized(this.size, (n) =>
      n === Infinity ? n : smallLastBatch ? Math.ceil(n / batchSize) : Math.floor(n / batchSize),
    );
    return derived(this, size, async (position) => {
      const it = await this.iterator(position);
      return {
        next: async () => {
          const group: T[] = [];
          while (group.length < batchSize) {
            const r = await it.next();
            if (r.done) break;
            group.push(r.value);
          }
          if (group.length === 0 || (group.length < batchSize && !smallLastBatch)) return DONE;
          return some(stack(group as DataElement[]));
        },
        position: () => it.position(),
      };
    });
  }

  /**
   * Elements in random order through a buffer of `bufferSize` (tfjs-data's shuffle): each
   * pass gives every element once. `seed` fixes the order (a random one is drawn and saved
   * otherwise); `reshuffleEachIteration` gives each pass its own order.
   */
  shuffle(bufferSize: number, seed?: number, reshuffleEachIteration = true): Dataset<T> {
    if (!(Number.isInteger(bufferSize) && bufferSize > 0))
      throw new ArgumentError(`shuffle: bufferSize must be a positive integer, got ${bufferSize}`);
    if (seed !== undefined && !Number.isFinite(seed))
      throw new ArgumentError(`shuffle: seed must be a number, got ${seed}`);
    return new Shuffled(this, bufferSize, seed ?? Math.floor(Math.random() * 2 ** 32), reshuffleEachIteration);
  }

  /** The first `count` elements (all of them when count is Infinity). */
  take(n: number): Dataset<T> {
    count('take', 'count', n, true);
    return derived(this, sized(this.size, (s) => Math.min(s, n)), async (position) => {
      const p = position as { taken: number; inner: Position } | undefined;
      const it = await this.iterator(p?.inner);
      let taken = p?.taken ?? 0;
      return {
        next: async () => {
          if (taken >= n) return DONE;
          const r = await it.next();
          if (!r.done) taken++;
          return r;
        },
        position: () => ({ taken, inner: it.position() }),
      };
    });
  }

  /** Every element after the first `count`. */
  skip(n: number): Dataset<T> {
    count('skip', 'count', n, true);
    return derived(this, sized(this.size, (s) => (s === Infinity ? s : Math.max(0, s - n))), async (position) => {
      const p = position as { skipped: number; inner: Position } | undefined;
      const it = await this.iterator(p?.inner);
      let skipped = p?.skipped ?? 0;
      return {
        next: async () => {
          for (; skipped < n; skipped++) if ((await it.next()).done) return DONE;
          return it.next();
        },
        position: () => ({ skipped, inner: it.position() }),
      };
    });
  }

  /** The dataset `count` times over, each time a new pass (a reshuffling shuffle reshuffles); forever without a count. */
  repeat(n?: number): Dataset<T> {
    if (n !== undefined) count('repeat', 'count', n);
    const size = sized(this.size, (s) => (n === undefined ? (s === 0 ? 0 : Infinity) : s * n));
    return derived(this, size, async (position) => {
      const p = position as { round: number; inner: Position | null } | undefined;
      let round = p?.round ?? 0;
      let it = p?.inner != null ? await this.iterator(p.inner) : null;
      return {
        next: async () => {
          for (;;) {
            if (n !== undefined && round >= n) return DONE;
            const fresh = it === null;
            it ??= await this.iterator();
            const r = await it.next();
            if (!r.done) return r;
            it = null;
            round++;
            if (fresh) return DONE; // an empty pass: repeating it would never end
          }
        },
        position: () => ({ round, inner: it?.position() ?? null }),
      };
    });
  }

  /** This dataset's elements, then `other`'s. */
  concatenate(other: Dataset<T>): Dataset<T> {
    const size = this.size === null || other.size === null ? null : this.size + other.size;
    const parts = [this, other];
    return derived(
      [this, other],
      size,
      async (position) => {
        const p = position as { part: number; inner: Position } | undefined;
        let part = p?.part ?? 0;
        let it = part < 2 ? await parts[part].iterator(p?.inner) : null;
        return {
          next: async () => {
            while (it !== null) {
              const r = await it.next();
              if (!r.done) return r;
              part++;
              it = part < 2 ? await parts[part].iterator() : null;
            }
            return DONE;
          },
          position: () => ({ part, inner: it?.position() ?? null }),
        };
      },
    );
  }

  /**
   * Reads up to `bufferSize` elements ahead while the consumer works. Each element comes
   * with the position after it, and with the state of the datasets above it (a reshuffling
   * shuffle's pass count) as it was then: reading ahead into the next pass must not move the
   * pass a position taken here resumes at. A position taken here is the consumer's.
   */
  prefetch(bufferSize: number): Dataset<T> {
    if (!(Number.isInteger(bufferSize) && bufferSize > 0))
      throw new ArgumentError(`prefetch: bufferSize must be a positive integer, got ${bufferSize}`);
    return derived(this, this.size, async (position) => {
      const saved = position as { prefetched: Position; upstream: StateDict } | undefined;
      if (saved) this.loadStateDict(saved.upstream);
      const it = await this.iterator(saved?.prefetched);
      let at = { prefetched: it.position(), upstream: this.stateDict() };
      let chain: Promise<unknown> = Promise.resolve();
      const ahead: Array<Promise<{ r: IteratorResult<T, undefined>; at: typeof at | null }>> = [];
      const pull = () => {
        const read = chain.then(async () => {
          const r = await it.next();
          return { r, at: r.done ? null : { prefetched: it.position(), upstream: this.stateDict() } };
        });
        chain = read.catch(() => undefined);
        read.catch(() => undefined); // awaited by next(); not an unhandled rejection meanwhile
        ahead.push(read);
      };
      return {
        next: async () => {
          while (ahead.length < bufferSize) pull();
          const { r, at: after } = await ahead.shift()!;
          if (!r.done && after) at = after;
          return r;
        },
        position: () => at,
      };
    });
  }

  /** Calls `f` on every element of one pass. */
  async forEachAsync(f: (value: T) => void | Promise<void>): Promise<void> {
    const it = await this.iterator();
    for (let r = await it.next(); !r.done; r = await it.next()) await f(r.value);
  }

  /** Every element of one pass (a dataset that does not end never returns). */
  async toArray(): Promise<T[]> {
    if (this.size === Infinity) throw new ArgumentError('toArray: the dataset is endless (repeat() without a count)');
    const out: T[] = [];
    await this.forEachAsync((v) => void out.push(v));
    return out;
  }
}

/** A dataset made of its upstreams and a function that opens its iterators. */
class Derived<T> extends Dataset<T> {
  constructor(
    protected override readonly upstreams: ReadonlyArray<Dataset<unknown>>,
    readonly size: number | null,
    private readonly open: (position: Position | undefined) => Promise<DatasetIterator<T>>,
  ) {
    super();
  }
  iterator(position?: Position): Promise<DatasetIterator<T>> {
    return this.open(position);
  }
}

export function derived<T>(
  upstreams: Dataset<any> | ReadonlyArray<Dataset<any>>,
  size: number | null,
  open: (position: Position | undefined) => Promise<DatasetIterator<T>>,
): Dataset<T> {
  return new Derived(Array.isArray(upstreams) ? upstreams : [upstreams as Dataset<unknown>], size, open);
}

class Shuffled<T> extends Dataset<T> {
  readonly size: number | null;
  private passes = 0;
  protected override readonly upstreams: ReadonlyArray<Dataset<unknown>>;

  constructor(
    private readonly source: Dataset<T>,
    private readonly bufferSize: number,
    private seed: number,
    private readonly reshuffle: boolean,
  ) {
    super();
    this.size = source.size;
    this.upstreams = [source];
  }

  protected override ownState(): JsonValue {
    return { seed: this.seed, passes: this.passes };
  }
  protected override loadOwnState(state: JsonValue): void {
    const s = state as { seed: number; passes: number } | null;
    if (!(s && Number.isFinite(s.seed) && Number.isInteger(s.passes)))
      throw new ArgumentError(`shuffle: saved state ${JSON.stringify(state)} is not { seed, passes }`);
    this.seed = s.seed;
    this.passes = s.passes;
  }

  async iterator(position?: Position): Promise<DatasetIterator<T>> {
    const p = position as { buffer: T[]; rng: ReturnType<Random['getState']>; inner: Position | null } | undefined;
    let rng: Random;
    let buffer: T[];
    let it: DatasetIterator<T> | null;
    if (p) {
      rng = new Random(0);
      rng.setState(p.rng);
      buffer = [...p.buffer];
      it = p.inner === null ? null : await this.source.iterator(p.inner);
    } else {
      rng = Random.derive(this.seed, this.reshuffle ? this.passes++ : 0);
      buffer = [];
      it = await this.source.iterator();
    }
    return {
      next: async () => {
        while (it !== null && buffer.length < this.bufferSize) {
          const r = await it.next();
          if (r.done) it = null;
          else buffer.push(r.value);
        }
        if (buffer.length === 0) return DONE;
        const i = rng.int(buffer.length);
        const value = buffer[i];
        buffer[i] = buffer[buffer.length - 1];
        buffer.pop();
        return some(value);
      },
      position: () => ({ buffer: buffer.slice(), rng: rng.getState(), inner: it?.position() ?? null }),
    };
  }
}
