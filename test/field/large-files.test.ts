/**
 * Checkpoints past the 32-bit limits, on a real disk: one entry larger than 2 GiB. Needs
 * about 5 GB of free disk and 6 GB of memory; `.ci/run` sets WAYPOINT_LARGE_FILES=1 when the
 * machine has them, and the test prints SKIPPED otherwise.
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint, Tensor } from '../../src/node/index.js';

const enabled = process.env.WAYPOINT_LARGE_FILES === '1';

describe('entries larger than 2 GiB', () => {
  it('a single raw entry of 600M floats (2.4 GB) is written and restored exactly', async () => {
    if (!enabled) {
      console.log(
        'SKIPPED: the 2.4 GB entry test (set WAYPOINT_LARGE_FILES=1 on a machine with 5 GB of disk and 6 GB of memory)',
      );
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'wpt-large-'));
    try {
      const n = 600_000_000;
      const data = new Float32Array(n);
      for (let i = 0; i < n; i += 4093) data[i] = i; // sparse marks: a wrong offset anywhere shows
      data[n - 1] = -1.5;
      const path = join(dir, 'big.wpt');
      const result = await new Checkpoint({ w: new Tensor(data, [n]) }).write(path, { codec: 'raw' });
      expect(result.bytes).toBeGreaterThan(2 ** 31);
      expect(statSync(path).size).toBe(result.bytes);
      const into = new Tensor(new Float32Array(n), [n]);
      await new Checkpoint({ w: into }).read(path);
      for (let i = 0; i < n; i += 4093)
        if (into.data[i] !== Math.fround(i)) throw new Error(`value ${i} came back as ${into.data[i]}`);
      expect(into.data[n - 1]).toBe(-1.5);
      expect(into.data[1]).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
