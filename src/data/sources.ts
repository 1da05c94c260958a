/** Datasets from memory and code: `array`, `generator`, `zip`. */
import { ArgumentError } from '../errors.js';
import type { JsonValue } from '../state/tree.js';
import { Dataset, type DatasetIterator, type Position, derived } from './dataset.js';
import { DataError } from './errors.js';

/** The elements of `items`, in order; a position is the index of the next one. */
export function array<T>(items: readonly T[]): Dataset<T> {
  if (!Array.isArray(items)) throw new ArgumentError(`data.array: items must be an array, got ${typeof items}`);
  return derived([], items.length, async (position) => {
    let i = (position as number | undefined) ?? 0;
    return {
      next: async () => (i < items.length ? { done: false, value: items[i++] } : { done: true, value: undefined }),
      position: () => i,
    };
  });
}

export interface GeneratorOptions {
  /**
   * The generator's own position, for a source that can seek: taken after each element and
   * given back before `generator` is called again on resume, so that the new generator
   * continues there. Without it a resumed generator is replayed from its start, the
   * elements already consumed skipped (and a warning says so).
   */
  stateDict?: () => JsonValue;
  loadStateDict?: (state: JsonValue) => void;
  warn?: (message: string) => void;
}

type AnyIterator<T> = Iterator<T> | AsyncIterator<T>;

/**
 * Elements from a function that returns an iterator (a generator function, sync or async,
 * as tfjs-data's `generator`); each pass calls it again. A generator that throws stops the
 * pass with a DataError naming the element it was producing.
 */
export function generator<T>(
  make: () => AnyIterator<T> | Iterable<T> | AsyncIterable<T>,
  options: GeneratorOptions = {},
): Dataset<T> {
  if (typeof make !== 'function')
    throw new ArgumentError(`data.generator: expects a function returning an iterator, got ${typeof make}`);
  if ((options.stateDict === undefined) !== (options.loadStateDict === undefined))
    throw new ArgumentError('data.generator: give both stateDict and loadStateDict, or neither');
  const start = (): AnyIterator<T> => {
    const made = make() as any;
    const it = typeof made?.next === 'function' ? made : (made?.[Symbol.asyncIterator] ?? made?.[Symbol.iterator])?.call(made);
    if (typeof it?.next !== 'function')
      throw new ArgumentError('data.generator: the function must return an iterator (call it a generator function)');
    return it;
  };
  return derived([], null, async (position) => {
    const p = position as { consumed: number; state?: JsonValue } | undefined;
    let consumed = 0;
    let state: JsonValue | undefined;
    const pull = async (it: AnyIterator<T>): Promise<IteratorResult<T, undefined>> => {
      try {
        const r = await it.next();
        return r.done ? { done: true, value: undefined } : r;
      } catch (e) {
        throw new DataError(`data.generator: the generator threw producing element ${consumed}: ${(e as Error)?.message ?? e}`);
      }
    };
    let it: AnyIterator<T>;
    if (p && options.loadStateDict) {
      options.loadStateDict(p.state as JsonValue);
      it = start();
      consumed = p.consumed;
    } else {
      it = start();
      if (p && p.consumed > 0) {
        (options.warn ?? ((m) => console.warn(`waypoint: ${m}`)))(
          `data.generator cannot seek: replaying ${p.consumed} elements to resume (give stateDict and loadStateDict to continue without replaying)`,
        );
        while (consumed < p.consumed)
          if ((await pull(it)).done)
            throw new DataError(`data.generator: resuming at element ${p.consumed}, the generator ended after ${consumed}`);
          else consumed++;
      }
    }
    const iterator: DatasetIterator<T> = {
      next: async () => {
        const r = await pull(it);
        if (!r.done) {
          consumed++;
          if (options.stateDict) state = options.stateDict();
        }
        return r;
      },
      position: () => (options.stateDict ? { consumed, state: state ?? null } : { consumed }),
    };
    if (options.stateDict && state === undefined) state = p?.state ?? options.stateDict();
    return iterator;
  });
}

type Container = Dataset<unknown> | Container[] | { [key: string]: Container };

/** The datasets in a container (list or object, nested), with the rebuild of an element from theirs. */
function leaves(c: Container, out: Array<Dataset<unknown>>): (values: unknown[]) => unknown {
  if (c instanceof Dataset) {
    const i = out.push(c) - 1;
    return (v) => v[i];
  }
  if (Array.isArray(c)) {
    const parts = c.map((x) => leaves(x, out));
    return (v) => parts.map((p) => p(v));
  }
  if (typeof c === 'object' && c !== null) {
    const parts = Object.entries(c).map(([k, x]) => [k, leaves(x, out)] as const);
    return (v) => Object.fromEntries(parts.map(([k, p]) => [k, p(v)]));
  }
  throw new ArgumentError(`data.zip: expects datasets in a list or an object, got ${c === null ? 'null' : typeof c}`);
}

/**
 * One element from each dataset, in the container's structure (`zip([a, b])` gives
 * `[aElement, bElement]`, `zip({ xs, ys })` gives `{ xs: …, ys: … }`), until one ends.
 */
export function zip<T = any>(datasets: Container): Dataset<T> {
  const all: Array<Dataset<unknown>> = [];
  const build = leaves(datasets, all);
  const sizes = all.map((d) => d.size);
  const size = sizes.includes(null) ? null : Math.min(...(sizes as number[]));
  return derived(all, size, async (position) => {
    const its = await Promise.all(all.map((d, i) => d.iterator((position as Position[] | undefined)?.[i])));
    return {
      next: async () => {
        const rs = await Promise.all(its.map((it) => it.next()));
        if (rs.some((r) => r.done)) return { done: true, value: undefined };
        return { done: false, value: build(rs.map((r) => r.value)) as T };
      },
      position: () => its.map((it) => it.position()),
    };
  });
}
