import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Tensor,
  Random,
  CheckpointError,
  Checkpoint,
  ArgumentError,
  configureLoadThreads,
  startLoadThreads,
  readWpt,
  writeWpt,
  type Codec,
} from '../../src/node/index.js';
import { type FlatLeaf } from '../../src/state/tree.js';
import { type Lane, loadThreadsFor, shareOut } from '../../src/checkpoint/threads/load-threads.js';
import { WptReader } from '../../src/checkpoint/format/reader.js';
import { fromFloat16Bits, toFloat16Bits } from '../../src/checkpoint/layout/float16.js';

let dir: string;
let defaults: ReturnType<typeof configureLoadThreads>;
beforeAll(() => {
  defaults = configureLoadThreads({});
  dir = mkdtempSync(join(tmpdir(), 'waypoint-threads-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  configureLoadThreads(defaults);
});

/** Loads `path` on this thread alone and shared with a load thread (every load, however small). */
async function bothWays<T>(load: () => Promise<T>): Promise<[PromiseSettledResult<T>, PromiseSettledResult<T>]> {
  configureLoadThreads({ minBytes: Infinity });
  const [here] = await Promise.allSettled([load()]);
  configureLoadThreads({ minBytes: 0, threads: 1, useCallingThread: false });
  await startLoadThreads();
  const [shared] = await Promise.allSettled([load()]);
  expect(await loadThreadsFor(0)[0].ready).toBe(true); // the thread, not this one, decoded the tensors
  return [here, shared];
}

const bits = (v: unknown) =>
  v instanceof Tensor ? [v.shape, Array.from(new Uint32Array(v.data.buffer, v.data.byteOffset, v.data.length))] : v;
const outcome = (r: PromiseSettledResult<{ values: Map<string, unknown> }>) =>
  r.status === 'fulfilled'
    ? { keys: [...r.value.values.keys()], values: [...r.value.values.values()].map(bits) }
    : { error: r.reason instanceof CheckpointError ? [r.reason.code, r.reason.message] : String(r.reason) };

function leaves(rng: Random, sizes: number[]): FlatLeaf[] {
  return [
    ...sizes.map((n, i): FlatLeaf => ({
      key: `layer_${i}/kernel`,
      kind: 'tensor',
      value: new Tensor(rng.fillNormal(new Float32Array(n), 0, 0.05), [n]),
    })),
    { key: 'meta', kind: 'json', value: { epoch: 3, loss: [0.5, 0.25] } },
  ];
}

describe('load threads', () => {
  it('decode every codec to the same bits, in the same key order, as this thread', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Codec>('raw', 'deflate', 'shuffle-deflate'),
        fc.boolean(),
        fc.array(fc.integer({ min: 0, max: 70_000 }), { minLength: 1, maxLength: 6 }),
        fc.integer(),
        async (codec, float16, sizes, seed) => {
          const path = join(dir, 'p.wpt');
          await writeWpt(path, leaves(new Random(seed), sizes), { kind: 'checkpoint', codec, float16 });
          const [here, shared] = await bothWays(() => readWpt(path));
          expect(here.status).toBe('fulfilled');
          expect(outcome(shared)).toEqual(outcome(here));
        },
      ),
      { numRuns: 25 },
    );
  });

  it('reject every damaged payload byte with the error this thread gives', async () => {
    const path = join(dir, 'small.wpt');
    await writeWpt(path, leaves(new Random(2), [24, 300]), { kind: 'checkpoint', codec: 'shuffle-deflate' });
    const good = readFileSync(path);
    const reader = await WptReader.open(path);
    const tensors = reader.entries.filter((e) => e.dtype !== 'json');
    await reader.close();
    let rejected = 0;
    for (const e of tensors) {
      for (let at = e.offset; at < e.offset + e.length; at++) {
        const bad = Uint8Array.from(good);
        bad[at] ^= 0x5a;
        writeFileSync(path, bad);
        const [here, shared] = await bothWays(() => readWpt(path));
        expect(here.status).toBe('rejected');
        expect(outcome(shared)).toEqual(outcome(here));
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(1000);
  });

  it('finish a load on the calling thread when their thread stops in the middle of it', async () => {
    const path = join(dir, 'stopped.wpt');
    await writeWpt(path, leaves(new Random(6), [40_000, 40_000, 40_000, 40_000, 40_000, 40_000]), {
      kind: 'checkpoint',
    });
    configureLoadThreads({ minBytes: Infinity });
    const expected = outcome({ status: 'fulfilled', value: await readWpt(path) });
    for (const delayMs of [-1, 0, 1, 3]) {
      configureLoadThreads({ minBytes: 0, threads: 1, useCallingThread: false });
      await startLoadThreads();
      const loading = readWpt(path);
      // Stopped before the first job is sent, or with jobs in flight.
      if (delayMs < 0) configureLoadThreads({ threads: 0 });
      else setTimeout(() => configureLoadThreads({ threads: 0 }), delayMs);
      const [got] = await Promise.allSettled([loading]);
      expect(outcome(got)).toEqual(expected);
    }
    configureLoadThreads({ threads: 1 });
  });

  it('leave every array unchanged when a restore through them meets a damaged entry', async () => {
    const path = join(dir, 'restore.wpt');
    const state = Object.fromEntries(
      leaves(new Random(3), [5000, 7000, 9000])
        .filter((l) => l.kind === 'tensor')
        .map((l) => [l.key.split('/')[0], l.value]),
    );
    const ckpt = new Checkpoint({ model: { stateDict: () => state, loadStateDict: () => undefined } });
    await ckpt.write(path);
    const reader = await WptReader.open(path);
    const last = reader.entries[reader.entries.length - 1];
    await reader.close();
    const bad = Uint8Array.from(readFileSync(path));
    bad[last.offset + last.length - 1] ^= 1;
    writeFileSync(path, bad);
    const live = Object.values(state).map((t) => (t as Tensor).data);
    live.forEach((a) => a.fill(7));
    configureLoadThreads({ minBytes: 0, threads: 1, useCallingThread: false });
    await startLoadThreads();
    await expect(ckpt.read(path)).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH', entry: last.key });
    for (const a of live) expect(a.every((x) => x === 7)).toBe(true);
  });

  it('restore into live arrays exactly what was saved, again and again (the threads reuse their buffers)', async () => {
    const rng = new Random(4);
    const state = {
      a: new Tensor(new Float32Array(30_000), [30_000]),
      b: new Tensor(new Float32Array(20_000), [100, 200]),
    };
    const ckpt = new Checkpoint({ model: { stateDict: () => state, loadStateDict: () => undefined } });
    const saved: Array<{ a: Float32Array; b: Float32Array }> = [];
    for (const [k, codec] of (['raw', 'shuffle-deflate', 'deflate'] as Codec[]).entries()) {
      rng.fillNormal(state.a.data);
      rng.fillNormal(state.b.data);
      saved.push({ a: state.a.data.slice(), b: state.b.data.slice() });
      await ckpt.write(join(dir, `restore-${k}.wpt`), { codec, float16: k === 2 });
    }
    for (const useCallingThread of [false, true]) {
      configureLoadThreads({ minBytes: 0, threads: 1, useCallingThread });
      await startLoadThreads();
      for (const k of [0, 1, 2, 1, 0, 2]) {
        state.a.data.fill(0);
        state.b.data.fill(0);
        await ckpt.read(join(dir, `restore-${k}.wpt`));
        const round = (x: Float32Array) => (k === 2 ? x.map((v) => Math.fround(fromFloat16Bits(toFloat16Bits(v)))) : x);
        expect(state.a.data).toEqual(round(saved[k].a));
        expect(state.b.data).toEqual(round(saved[k].b));
      }
    }
  });
});

describe('configureLoadThreads', () => {
  it('refuses a thread count or a size that is not one, by name', () => {
    for (const bad of [-1, 1.5, NaN]) expect(() => configureLoadThreads({ threads: bad })).toThrow(ArgumentError);
    expect(() => configureLoadThreads({ threads: -1 })).toThrow(/threads must be a whole number >= 0, got -1/);
    expect(() => configureLoadThreads({ minBytes: -5 })).toThrow(/minBytes must be >= 0/);
    expect(() => configureLoadThreads({ minBytes: NaN })).toThrow(ArgumentError);
  });
});

describe('load threads and the process', () => {
  const src = (file: string) => JSON.stringify(fileURLToPath(new URL(`../../src/checkpoint/${file}`, import.meta.url)));
  const run = (body: string) => {
    const script = join(dir, `child-${Math.random().toString(36).slice(2)}.mts`);
    writeFileSync(
      script,
      `import ${JSON.stringify(fileURLToPath(new URL('../../src/node/install.ts', import.meta.url)))};\nimport { configureLoadThreads, startLoadThreads } from ${src('threads/load-threads.ts')};\nimport { readWpt, WptReader } from ${src('format/reader.ts')};\n${body}\n`,
    );
    return spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
  };

  it('a load thread keeps the process alive while it decodes or startLoadThreads waits for it, never when idle or starting after a load', async () => {
    const path = join(dir, 'child.wpt');
    await writeWpt(path, leaves(new Random(5), [50_000, 50_000]), { kind: 'checkpoint' });
    const started = run(`console.log('started', await startLoadThreads());`);
    expect([started.status, started.stdout.trim()], started.stderr).toEqual([0, 'started 1']);
    // Every tensor decoded on the thread, the last awaited at top level: nothing else holds the process.
    const loaded = run(`configureLoadThreads({ minBytes: 0, useCallingThread: false });
      await startLoadThreads();
      const { values } = await readWpt(${JSON.stringify(path)});
      console.log('loaded', values.size);`);
    expect([loaded.status, loaded.stdout.trim()], loaded.stderr).toEqual([0, 'loaded 3']);
    // A large load in a fresh process starts the threads after it, in the background: the process still ends.
    const once = run(`configureLoadThreads({ minBytes: 0 });
      const { values } = await readWpt(${JSON.stringify(path)});
      console.log('loaded', values.size);`);
    expect([once.status, once.stdout.trim()], once.stderr).toEqual([0, 'loaded 3']);
  });
});

describe('shareOut', () => {
  const lane = (
    log: string[],
    name: string,
    slots: number,
    ready?: Promise<boolean>,
    fail?: (i: number) => boolean,
  ): Lane<number> => ({
    slots,
    ready,
    run: async (i) => {
      await new Promise((r) => setTimeout(r, 1));
      log.push(`${name}${i}`);
      if (fail?.(i)) throw new Error(`item ${i}`);
    },
  });

  it('runs every item exactly once across the lanes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 30 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
        async (n, slots) => {
          const log: string[] = [];
          await shareOut(
            Array.from({ length: n }, (_, i) => i),
            slots.map((s, k) => lane(log, `L${k}:`, s)),
          );
          expect(log.map((x) => Number(x.split(':')[1])).sort((a, b) => a - b)).toEqual(
            Array.from({ length: n }, (_, i) => i),
          );
        },
      ),
      { numRuns: 30 },
    );
  });

  it('does not wait for a lane that never starts, nor give it work', async () => {
    const log: string[] = [];
    await shareOut([0, 1, 2], [lane(log, 'here', 1), lane(log, 'late', 2, new Promise(() => undefined))]);
    expect(log).toEqual(['here0', 'here1', 'here2']);
  });

  it('starts nothing after a failure, lets started items finish, then throws the first failure', async () => {
    const log: string[] = [];
    const started: number[] = [];
    const slow: Lane<number> = {
      slots: 1,
      run: async (i) => {
        started.push(i);
        await new Promise((r) => setTimeout(r, 20));
        log.push(`slow${i}`);
      },
    };
    await expect(shareOut([0, 1, 2, 3, 4, 5], [slow, lane(log, 'fast', 1, undefined, (i) => i === 1)])).rejects.toThrow(
      'item 1',
    );
    expect(log).toContain('slow0');
    expect(started).toEqual([0]);
    expect(log).toEqual(['fast1', 'slow0']);
  });
});
