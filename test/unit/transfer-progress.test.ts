/**
 * Saves and restores report their progress and stop when their AbortSignal fires: an
 * aborted save leaves the file it would replace and no temporary file, an aborted restore
 * leaves every array as it was (one pass into scratch, and the two-pass restore of a state
 * past STAGE_BYTES), and the reports count every entry and tensor byte, monotonically.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Checkpoint,
  CheckpointError,
  CheckpointManager,
  Random,
  Tensor,
  type TransferProgress,
} from '../../src/node/index.js';
import { STAGE_BYTES } from '../../src/checkpoint/format/reader.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wpt-progress-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Tensors of `sizes` values each, random, with a JSON value beside them. */
function state(sizes: number[], seed = 1): Checkpoint {
  const rng = new Random(seed);
  const objects: Record<string, Tensor | string> = { note: 'beside the tensors' };
  sizes.forEach((n, i) => (objects[`w${i}`] = new Tensor(rng.fillNormal(new Float32Array(n), 0, 1), [n])));
  return new Checkpoint(objects);
}
const tensorsOf = (c: Checkpoint) => Object.values(c.objects).filter((o): o is Tensor => o instanceof Tensor);

function expectMonotonic(reports: TransferProgress[], entries: number, bytes: number): void {
  expect(reports.length).toBeGreaterThan(0);
  for (let i = 1; i < reports.length; i++) {
    expect(reports[i].entries).toBeGreaterThanOrEqual(reports[i - 1].entries);
    expect(reports[i].bytes).toBeGreaterThanOrEqual(reports[i - 1].bytes);
  }
  expect(reports.every((r) => r.totalEntries === entries && r.totalBytes === bytes)).toBe(true);
  expect(reports.at(-1)).toMatchObject({ entries, bytes });
}

const sameBits = (a: Float32Array, b: Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const abortedCode = (e: unknown) => (e instanceof CheckpointError ? e.code : String(e));

describe('save progress and abort', () => {
  for (const codec of ['raw', 'shuffle-deflate'] as const) {
    it(`reports every entry and tensor byte as it reaches the storage (${codec})`, async () => {
      const c = state([3_000_000, 10, 2_000_000]);
      const reports: TransferProgress[] = [];
      await c.write(join(dir, 'a.wpt'), { codec, onProgress: (p) => reports.push({ ...p }) });
      expectMonotonic(reports, 4, 5_000_010 * 4);
      expect(reports.length).toBeGreaterThan(1); // more than the final report: the entries span batches
    });
  }

  it('an abort mid-save rejects ABORTED, leaves the file it would replace as it was and no temporary file', async () => {
    const path = join(dir, 'a.wpt');
    const c = state([2_000_000, 2_000_000, 2_000_000]);
    await c.write(path);
    const before = readFileSync(path);
    tensorsOf(c).forEach((t) => t.data.fill(1));
    const controller = new AbortController();
    const saving = c.write(path, {
      codec: 'raw',
      signal: controller.signal,
      onProgress: () => controller.abort(new Error('the user pressed stop')),
    });
    const error = await saving.catch((e: unknown) => e);
    expect(abortedCode(error)).toBe('ABORTED');
    expect((error as Error).message).toMatch(/the save of .*a\.wpt was aborted: the user pressed stop/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['a.wpt']);
  });

  it('an already aborted signal refuses the save before anything is created', async () => {
    const error = await state([10])
      .write(join(dir, 'sub', 'a.wpt'), { signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect(abortedCode(error)).toBe('ABORTED');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('CheckpointManager.save passes both on: an aborted save leaves the manifest as it was', async () => {
    const c = state([1_000_000, 1_000_000]);
    const manager = new CheckpointManager(c, dir, { maxToKeep: 3 });
    await manager.save();
    const manifest = readFileSync(join(dir, 'manifest.json'), 'utf8');
    const controller = new AbortController();
    const error = await manager
      .save({ signal: controller.signal, onProgress: () => controller.abort() })
      .catch((e: unknown) => e);
    expect(abortedCode(error)).toBe('ABORTED');
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).toBe(manifest);
    const reports: TransferProgress[] = [];
    await manager.save({ onProgress: (p) => reports.push({ ...p }) });
    expectMonotonic(reports, 4, 8_000_000); // the JSON value and the save counter are entries too
    await manager.close();
  });
});

describe('restore progress and abort', () => {
  // One pass into scratch, and the two-pass restore of a state past STAGE_BYTES (verified, then read into the arrays).
  const cases = [
    { name: 'a small state (one pass)', sizes: [300_000, 200_000], passes: 1 },
    { name: 'a state past STAGE_BYTES (two passes)', sizes: [STAGE_BYTES / 8, STAGE_BYTES / 8 + 1000], passes: 2 },
  ];
  for (const { name, sizes, passes } of cases) {
    it(`${name}: reports each pass's entries and bytes, and an abort during verification changes no array`, async () => {
      const path = join(dir, 'a.wpt');
      const saved = state(sizes, 2);
      await saved.write(path, { codec: 'raw' });
      const target = state(sizes, 3);
      const untouched = tensorsOf(target).map((t) => t.data.slice());

      const controller = new AbortController();
      const error = await target
        .read(path, { signal: controller.signal, onProgress: () => controller.abort() })
        .catch((e: unknown) => e);
      expect(abortedCode(error)).toBe('ABORTED');
      expect((error as Error).message).toMatch(/the restore of .*a\.wpt was aborted/);
      tensorsOf(target).forEach((t, i) =>
        expect(Buffer.from(t.data.buffer).equals(Buffer.from(untouched[i].buffer))).toBe(true),
      );

      const reports: TransferProgress[] = [];
      await target.read(path, { onProgress: (p) => reports.push({ ...p }) });
      const bytes = sizes.reduce((n, s) => n + 4 * s, 0);
      expectMonotonic(reports, sizes.length * passes, bytes * passes);
      expect(tensorsOf(target).every((t, i) => sameBits(t.data, tensorsOf(saved)[i].data))).toBe(true);
    });
  }

  it('restoreOrInitialize passes them on', async () => {
    const c = state([500_000]);
    const manager = new CheckpointManager(c, dir);
    await manager.save();
    await manager.close();
    const restored = state([500_000], 9);
    const again = new CheckpointManager(restored, dir);
    const reports: TransferProgress[] = [];
    expect(await again.restoreOrInitialize(undefined, { onProgress: (p) => reports.push({ ...p }) })).toMatch(/ckpt-1/);
    expectMonotonic(reports, 1, 2_000_000);
    expect(sameBits(tensorsOf(restored)[0].data, tensorsOf(c)[0].data)).toBe(true);
    await again.close();
  });
});
