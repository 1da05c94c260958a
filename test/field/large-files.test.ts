/**
 * Checkpoints past the 32-bit limits, on a real disk: an entry larger than 2 GiB and a file
 * larger than 4 GiB, written, restored (the two-pass restore of a model too large to stage)
 * and loaded into new arrays, raw and compressed; a tensor larger than an entry may be is
 * refused by name. Needs about 10 GB of free disk and 12 GB of memory; `.ci/run` sets
 * WAYPOINT_LARGE_FILES=1 when the machine has them, and the test prints SKIPPED otherwise.
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint, CheckpointError, Tensor, readWpt } from '../../src/node/index.js';

const enabled = process.env.WAYPOINT_LARGE_FILES === '1';
const skip = (what: string) =>
  console.log(`SKIPPED: ${what} (set WAYPOINT_LARGE_FILES=1 on a machine with 10 GB of disk and 12 GB of memory)`);

/** Sparse marks every 4093 values and a last value: a wrong offset anywhere shows. */
function marked(n: number, salt: number): Float32Array {
  const data = new Float32Array(n);
  for (let i = 0; i < n; i += 4093) data[i] = i + salt;
  data[n - 1] = -1.5 - salt;
  return data;
}

function expectMarked(data: Float32Array, salt: number): void {
  for (let i = 0; i < data.length; i += 4093)
    if (data[i] !== Math.fround(i + salt)) throw new Error(`value ${i} came back as ${data[i]}`);
  expect(data[data.length - 1]).toBe(-1.5 - salt);
  expect(data[1]).toBe(0);
}

describe('entries larger than 2 GiB and files larger than 4 GiB', () => {
  it('a 4.6 GB file of a 2.4 GB and a 2.2 GB entry is written, restored in place and loaded exactly, raw and shuffle-deflate', async () => {
    if (!enabled) return skip('the 4.6 GB file test');
    const dir = mkdtempSync(join(tmpdir(), 'wpt-large-'));
    try {
      const sizes = [600_000_000, 550_000_000];
      let model: Record<string, Tensor> | null = Object.fromEntries(
        sizes.map((n, k) => [`w${k}`, new Tensor(marked(n, k), [n])]),
      );
      for (const codec of ['raw', 'shuffle-deflate'] as const) {
        const path = join(dir, `big-${codec}.wpt`);
        const result = await new Checkpoint(model!).write(path, { codec });
        expect(statSync(path).size).toBe(result.bytes);
        if (codec === 'raw') expect(result.bytes).toBeGreaterThan(2 ** 32);
        for (const t of Object.values(model!)) t.data.fill(7);
        await new Checkpoint(model!).read(path);
        Object.values(model!).forEach((t, k) => expectMarked(t.data, k));
      }
      model = null; // the load below makes new arrays
      const { values } = await readWpt(join(dir, 'big-raw.wpt'));
      sizes.forEach((n, k) => {
        const t = values.get(`w${k}`) as Tensor;
        expect(t.shape).toEqual([n]);
        expectMarked(t.data, k);
      });
      values.clear();
      expect(readdirSync(dir).sort()).toEqual(['big-raw.wpt', 'big-shuffle-deflate.wpt']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);

  it('a tensor over 4 GiB is refused by name before anything is written', async () => {
    if (!enabled) return skip('the 4 GiB tensor refusal');
    const dir = mkdtempSync(join(tmpdir(), 'wpt-large-'));
    try {
      const n = 2 ** 30 + 1;
      const err = await new Checkpoint({ huge: new Tensor(new Float32Array(n), [n]) })
        .write(join(dir, 'huge.wpt'), { codec: 'raw' })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as CheckpointError).code).toBe('ENTRY_TOO_LARGE');
      expect((err as Error).message).toContain("tensor 'huge' of shape [1073741825]");
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
