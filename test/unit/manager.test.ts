import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Checkpoint,
  CheckpointManager,
  Variable,
  tensor,
  selectBest,
  MANIFEST_NAME,
  Sequential,
  Dense,
  CheckpointError,
} from '../../src/node/index.js';
import { dataFor, makeModel } from '../../harness/training.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wpt-mgr-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ckptFiles = (d: string) =>
  readdirSync(d)
    .filter((f) => f.endsWith('.wpt'))
    .sort();

describe('CheckpointManager retention', () => {
  it('keeps exactly what maxToKeep + bestOf + the newest say, across any sequence of saves and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ save: fc.double({ min: 0, max: 10, noNaN: true }) }),
            fc.constant({ restart: true as const }),
          ),
          { minLength: 1, maxLength: 12 },
        ),
        fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
        fc.option(
          fc.record({ keep: fc.integer({ min: 1, max: 2 }), mode: fc.constantFrom<'min' | 'max'>('min', 'max') }),
          { nil: null },
        ),
        async (ops, maxToKeep, best) => {
          const d = mkdtempSync(join(dir, 'p-'));
          const step = new Variable<number>(0);
          const options = {
            maxToKeep,
            bestOf: best ? { monitor: 'val_loss', mode: best.mode, keep: best.keep } : null,
          };
          let manager = new CheckpointManager(new Checkpoint({ step }), d, options);
          await manager.ready; // a restart replaces a finished process: never two managers at once
          const saved: Array<{ step: number; loss: number }> = [];
          let next = 0;
          for (const op of ops) {
            if ('restart' in op) {
              await manager.close();
              manager = new CheckpointManager(new Checkpoint({ step }), d); // no options: the manifest's policy applies
              await manager.ready;
              continue;
            }
            step.value = next;
            await manager.save({ step: next, metrics: { val_loss: op.save } });
            saved.push({ step: next++, loss: op.save });
            // Reference model of the policy.
            const keep = new Set<number>([next - 1]);
            for (const s of maxToKeep === null ? saved : saved.slice(-maxToKeep)) keep.add(s.step);
            if (best) {
              [...saved]
                .sort((a, b) => (best.mode === 'min' ? a.loss - b.loss : b.loss - a.loss) || b.step - a.step)
                .slice(0, best.keep)
                .forEach((s) => keep.add(s.step));
            }
            const expected = [...keep].sort((a, b) => a - b).map((s) => `ckpt-${s}.wpt`);
            expect(ckptFiles(d)).toEqual([...expected].sort());
            expect(manager.entries.map((e) => e.file)).toEqual(expected);
            // Ops that were dropped by retention stay dropped in the reference too.
            for (let i = saved.length - 1; i >= 0; i--) if (!keep.has(saved[i].step)) saved.splice(i, 1);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('keepEveryNHours preserves, as a checkpoint leaves the newest maxToKeep, one per period for good (TensorFlow _sweep)', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const manager = new CheckpointManager(new Checkpoint({ v: 1 }), dir, {
      maxToKeep: 1,
      keepEveryNHours: 1,
      now: () => new Date(clock),
    });
    for (let i = 0; i < 8; i++) {
      await manager.save({ step: i });
      clock += 20 * 60_000; // 20 minutes
    }
    // Saved at 0:00, 0:20, … 2:20; the last preserved time starts at the manager's creation
    // minus 1 s (23:59:59). Leaving the set: 0:00 (not an hour past 23:59:59: deleted), 0:20,
    // 0:40, then 1:00 (preserved), 1:20, 1:40, then 2:00 (preserved). Managed: the newest.
    expect(manager.entries.map((e) => e.step)).toEqual([7]);
    expect(manager.preserved.map((p) => p.split('/').pop())).toEqual(['ckpt-3.wpt', 'ckpt-6.wpt']);
    expect(ckptFiles(dir)).toEqual(['ckpt-3.wpt', 'ckpt-6.wpt', 'ckpt-7.wpt']);
  });

  it('maxBytes deletes the oldest first and never the newest', async () => {
    const manager = new CheckpointManager(new Checkpoint({ w: tensor(new Float32Array(1000).fill(1)) }), dir, {
      maxToKeep: null,
      maxBytes: 1,
    });
    for (let i = 0; i < 3; i++) await manager.save(); // numbered by the save counter: 1, 2, 3
    expect(ckptFiles(dir)).toEqual(['ckpt-3.wpt']);
  });

  it('checkpointInterval with a stepCounter skips saves that come too soon', async () => {
    const step = new Variable<number>(0);
    const manager = new CheckpointManager(new Checkpoint({ step }), dir, { checkpointInterval: 10, stepCounter: step });
    const results: Array<string | null> = [];
    for (const s of [0, 5, 10, 12, 25]) {
      step.value = s;
      results.push(await manager.save());
    }
    // Numbered by the save counter, as TensorFlow does, not by the step.
    expect(results.map((r) => r && r.split('/').pop())).toEqual(['ckpt-1.wpt', null, 'ckpt-2.wpt', null, 'ckpt-3.wpt']);
  });
});

describe('CheckpointManager recovery', () => {
  it('latestCheckpoint comes from the manifest; a damaged latest falls back to the newest that verifies, with a warning naming it', async () => {
    const value = new Variable<number>(0);
    const warnings: string[] = [];
    const manager = new CheckpointManager(new Checkpoint({ value }), dir, { warn: (m) => warnings.push(m) });
    for (let i = 1; i <= 3; i++) {
      value.value = i * 100;
      await manager.save({ step: i });
    }
    expect(manager.latestCheckpoint).toBe(join(dir, 'ckpt-3.wpt'));
    await manager.close();
    const damaged = readFileSync(join(dir, 'ckpt-3.wpt'));
    damaged[20] ^= 0x40;
    writeFileSync(join(dir, 'ckpt-3.wpt'), damaged);
    const restored = new Variable<number>(0);
    const again = new CheckpointManager(new Checkpoint({ value: restored }), dir, { warn: (m) => warnings.push(m) });
    expect(await again.restoreOrInitialize()).toBe(join(dir, 'ckpt-2.wpt'));
    expect(restored.value).toBe(200);
    expect(warnings.join('\n')).toMatch(/ckpt-3\.wpt is damaged \(CHECKSUM_MISMATCH.*falling back to .*ckpt-2\.wpt/);
  });

  it('restoreOrInitialize runs the initializer when there is nothing to restore', async () => {
    let initialized = false;
    const manager = new CheckpointManager(new Checkpoint({ v: new Variable(1) }), dir);
    expect(
      await manager.restoreOrInitialize(() => {
        initialized = true;
      }),
    ).toBeNull();
    expect(initialized).toBe(true);
  });

  it('on start it deletes its leftover temporary files, adopts complete orphans and leaves broken ones with a warning', async () => {
    const v = new Variable<number>(7);
    const first = new CheckpointManager(new Checkpoint({ v }), dir);
    await first.save({ step: 1, metrics: { loss: 0.5 } });
    await first.close();
    // A crash between writing ckpt-2 and updating the manifest, a half-written temp file, a truncated orphan.
    await new Checkpoint({ v }).write(join(dir, 'ckpt-2.wpt'), { metadata: { step: 2, metrics: { loss: 0.25 } } });
    writeFileSync(join(dir, '.ckpt-3.wpt.123-abc-0.wpt-tmp'), 'partial');
    writeFileSync(join(dir, 'ckpt-4.wpt'), readFileSync(join(dir, 'ckpt-2.wpt')).subarray(0, 30));
    const warnings: string[] = [];
    const again = new CheckpointManager(new Checkpoint({ v }), dir, { warn: (m) => warnings.push(m) });
    await again.ready;
    expect(readdirSync(dir).sort()).toEqual(
      ['ckpt-1.wpt', 'ckpt-2.wpt', 'ckpt-4.wpt', MANIFEST_NAME, 'manager.lock'].sort(),
    );
    expect(again.entries.map((e) => [e.step, e.metrics.loss])).toEqual([
      [1, 0.5],
      [2, 0.25],
    ]);
    expect(warnings.join()).toMatch(/leaving .*ckpt-4\.wpt as it is: not in the manifest and it does not verify/);
  });

  it('background saves land in order and flush waits for them', async () => {
    const v = new Variable<number>(0);
    const manager = new CheckpointManager(new Checkpoint({ v }), dir, { async: true, maxToKeep: 2 });
    for (let i = 0; i < 4; i++) {
      v.value = i;
      await manager.save({ step: i });
    }
    await manager.close();
    expect(manager.entries.map((e) => e.step)).toEqual([2, 3]);
    const r = new Variable<number>(-1);
    await new CheckpointManager(new Checkpoint({ v: r }), dir).restoreOrInitialize();
    expect(r.value).toBe(3);
  });
});

describe('model persistence and selection', () => {
  it('loading weights into a different architecture is refused with a readable diff; strict: false restores what matches', async () => {
    const model = new Sequential(
      [new Dense({ units: 4, inputShape: [6] }), new Dense({ units: 3, activation: 'softmax' })],
      { seed: 1 },
    );
    await model.saveWeights(join(dir, 'w.wpt'));
    const other = new Sequential(
      [new Dense({ units: 4, inputShape: [6] }), new Dense({ units: 2, activation: 'sigmoid' })],
      { seed: 2 },
    );
    const err = await other.loadWeights(join(dir, 'w.wpt')).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toContain('layers[1].config.units: saved 3, this is 2');
    expect(err.message).toContain('layers[1].config.activation: saved "softmax", this is "sigmoid"');
    await other.loadWeights(join(dir, 'w.wpt'), { strict: false });
    expect(other.layers[0].namedWeights()[0][1].data).toEqual(model.layers[0].namedWeights()[0][1].data);
  });

  it('selectBest ranks checkpoints by a metric on held-out data', async () => {
    const [x, y] = dataFor('mlp', 90);
    const model = makeModel('mlp', 4);
    const paths: string[] = [];
    for (let e = 0; e < 3; e++) {
      await model.fit(x, y, { epochs: e + 1, initialEpoch: e, verbose: 0 });
      paths.push(join(dir, `m${e}.wpt`));
      await model.save(paths[e]);
    }
    const ranked = await selectBest(paths, { x, y }, { metric: 'loss' });
    expect(ranked.map((r) => r.rank)).toEqual([1, 2, 3]);
    const losses = ranked.map((r) => r.metrics.loss);
    expect([...losses].sort((a, b) => a - b)).toEqual(losses);
    expect(ranked[0].path).toBe(paths[2]); // training lowers the training loss
    const byAccuracy = await selectBest(paths, { x, y });
    expect(byAccuracy[0].metrics.accuracy).toBeGreaterThanOrEqual(byAccuracy[2].metrics.accuracy);
  });
});

describe('CheckpointManager under unlucky conditions', () => {
  it("Checkpoint.save('dir/unusual_prefix') files are listed but never managed: a later manager's retention leaves them", async () => {
    const v = new Variable(1);
    const own = new Checkpoint({ v });
    for (let i = 0; i < 3; i++) await own.save(join(dir, 'unusual_prefix'));
    const manager = new CheckpointManager(new Checkpoint({ v }), dir, { maxToKeep: 1 });
    for (let i = 0; i < 3; i++) await manager.save();
    await manager.close();
    expect(ckptFiles(dir)).toEqual([
      'ckpt-3.wpt',
      'unusual_prefix-1.wpt',
      'unusual_prefix-2.wpt',
      'unusual_prefix-3.wpt',
    ]);
    const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8'));
    expect(manifest.unmanaged.map((e: { file: string }) => e.file)).toEqual([
      'unusual_prefix-1.wpt',
      'unusual_prefix-2.wpt',
      'unusual_prefix-3.wpt',
    ]);
    await new CheckpointManager(new Checkpoint({ v }), dir).deleteAll();
    expect(ckptFiles(dir)).toEqual(['unusual_prefix-1.wpt', 'unusual_prefix-2.wpt', 'unusual_prefix-3.wpt']);
  });

  it('a manifest write that fails (ENOSPC) still deletes what retention dropped, records it, and the next save succeeds', async () => {
    const { FaultyStorage } = await import('../helpers/faulty-storage.js');
    const { fsStorage } = await import('../../src/node/index.js');
    const v = new Variable(1);
    const storage = new FaultyStorage(fsStorage, { failAt: null, code: 'ENOSPC', ops: ['create'] });
    const manager = new CheckpointManager(new Checkpoint({ v }), dir, { maxToKeep: 1, storage, warn: () => undefined });
    await manager.save();
    await manager.save();
    // The third save's creates: its checkpoint's temporary file (0), then the manifest's (1): that one fails.
    storage.count = 0;
    storage.plan = { failAt: 1, code: 'ENOSPC', ops: ['create'] };
    const err = await manager.save().catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.code).toBe('NO_SPACE');
    expect(ckptFiles(dir)).toEqual(['ckpt-3.wpt']); // ckpt-2 was deleted although the manifest could not be written
    storage.plan = { failAt: null };
    await manager.save();
    await manager.close();
    expect(ckptFiles(dir)).toEqual(['ckpt-4.wpt']);
    // Removals are recorded before they are made: the manifest may still name ones done since, never a file that is there.
    for (const file of JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8')).removing ?? [])
      expect(ckptFiles(dir)).not.toContain(file);
  });

  it('on a real 2 MiB tmpfs filled by saves: failed saves leak no file, and once space is freed the next save succeeds', async () => {
    const mount = join(dir, 'tmpfs');
    const { mkdirSync, statfsSync } = await import('node:fs');
    const { spawnSync } = await import('node:child_process');
    mkdirSync(mount);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mount]);
    if (mounted.status !== 0) {
      console.log(`SKIPPED: the tmpfs test needs root to mount a tmpfs (${String(mounted.stderr).trim()})`);
      return;
    }
    try {
      // Small checkpoints with ~100 kB of metrics each: the manifest (two entries) outgrows what a
      // checkpoint needs, so with little space left the checkpoint is written and the manifest is not.
      const metrics = Object.fromEntries(
        Array.from({ length: 2000 }, (_, i) => [`metric_with_a_long_descriptive_name_${i}`, i / 7]),
      );
      const run = join(mount, 'run');
      const manager = new CheckpointManager(new Checkpoint({ w: tensor([1, 2, 3]) }), run, {
        maxToKeep: 2,
        warn: () => undefined,
      });
      await manager.save({ metrics });
      await manager.save({ metrics });
      const free = () => statfsSync(mount).bavail * statfsSync(mount).bsize;
      writeFileSync(join(mount, 'filler'), new Uint8Array(free() - 150_000));
      const codes: string[] = [];
      for (let i = 0; i < 6; i++) {
        await manager.save({ metrics }).catch((e: CheckpointError) => codes.push(e.code));
        expect(readdirSync(run).filter((f) => f.endsWith('.wpt')).length).toBeLessThanOrEqual(2);
      }
      expect(codes.length).toBeGreaterThan(0);
      expect(new Set(codes)).toEqual(new Set(['NO_SPACE']));
      rmSync(join(mount, 'filler'));
      await manager.save({ metrics });
      await manager.save({ metrics });
      await manager.close();
      const files = readdirSync(run);
      expect(files.filter((f) => f.endsWith('.wpt')).sort()).toEqual(
        manager.checkpoints.map((p) => p.slice(run.length + 1)).sort(),
      );
      expect(files.filter((f) => f.includes('tmp'))).toEqual([]);
    } finally {
      spawnSync('umount', [mount]);
    }
  });

  it('a wall clock stepped back during a run neither stops keepEveryNHours nor dates a checkpoint before the previous one', async () => {
    const run = async (stepBackHoursAfter: number | null) => {
      const d = mkdtempSync(join(dir, 'clock-'));
      let wall = Date.parse('2026-06-01T00:00:00Z'),
        mono = 0;
      const warnings: string[] = [];
      const manager = new CheckpointManager(new Checkpoint({ v: new Variable(1) }), d, {
        maxToKeep: 1,
        keepEveryNHours: 1,
        now: () => new Date(wall),
        monotonicNow: () => mono,
        warn: (m) => warnings.push(m),
      });
      for (let i = 0; i < 12; i++) {
        // a save every 30 minutes for 6 hours
        await manager.save();
        wall += 1_800_000;
        mono += 1_800_000;
        if (stepBackHoursAfter !== null && i === stepBackHoursAfter) wall -= 5 * 3_600_000;
      }
      await manager.close();
      const times = manager.entries.concat().map((e) => Date.parse(e.time));
      return { preserved: manager.preserved.length, warnings, times };
    };
    const steady = await run(null);
    const stepped = await run(1);
    expect(steady.preserved).toBeGreaterThanOrEqual(5);
    expect(stepped.preserved).toBe(steady.preserved);
    expect(stepped.warnings.join('\n')).toMatch(/the system clock went back 1\d{4} s during the run/);
  });

  it('removals a crash interrupted are finished at the next start, silently, and never adopted back', async () => {
    const v = new Variable(1);
    const first = new CheckpointManager(new Checkpoint({ v }), dir, { maxToKeep: 1 });
    await first.save();
    await first.save();
    await first.close();
    // As a kill between recording a removal and making it leaves the directory: ckpt-1 back, and listed in `removing`.
    writeFileSync(join(dir, 'ckpt-1.wpt'), readFileSync(join(dir, 'ckpt-2.wpt')));
    const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8'));
    writeFileSync(join(dir, MANIFEST_NAME), JSON.stringify({ ...manifest, removing: ['ckpt-1.wpt'] }));
    const warnings: string[] = [];
    const again = new CheckpointManager(new Checkpoint({ v }), dir, { warn: (m) => warnings.push(m) });
    await again.ready;
    expect(ckptFiles(dir)).toEqual(['ckpt-2.wpt']);
    expect(again.entries.map((e) => e.file)).toEqual(['ckpt-2.wpt']);
    expect(warnings).toEqual([]);
    await again.close();
    expect(JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8')).removing).toBeUndefined();
  });

  it('a background save whose manifest write fails is reported by flush (once), not lost', async () => {
    const { FaultyStorage } = await import('../helpers/faulty-storage.js');
    const { MemoryStorage } = await import('../../src/node/index.js');
    const storage = new FaultyStorage(new MemoryStorage(), { failAt: null, code: 'ENOSPC', ops: ['create'] });
    const manager = new CheckpointManager(new Checkpoint({ v: new Variable(1) }), '/run', { async: true, storage });
    await manager.save();
    await manager.flush();
    storage.count = 0;
    storage.plan = { failAt: 1, code: 'ENOSPC', ops: ['create'] }; // the checkpoint's temporary file (0), then the manifest's (1)
    await manager.save();
    const err = await manager.flush().catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.code).toBe('NO_SPACE');
    expect(err.message).toMatch(/writing the manifest failed/);
    storage.plan = { failAt: null };
    await manager.flush(); // reported once
    await manager.save();
    await manager.close();
    expect(manager.entries.map((e) => e.step)).toEqual([1, 2, 3]);
  });

  it('background saves are bounded (maxPendingSaves) however fast saves are issued, and all land in order', async () => {
    const { fsStorage } = await import('../../src/node/index.js');
    let open = 0,
      mostOpen = 0;
    const slow = {
      ...fsStorage,
      async createExclusive(path: string) {
        const h = await fsStorage.createExclusive(path);
        if (!path.endsWith('.wpt-tmp') || path.includes('manifest')) return h;
        mostOpen = Math.max(mostOpen, ++open);
        return {
          write: async (b: Uint8Array[]) => {
            await new Promise((r) => setTimeout(r, 20));
            await h.write(b);
          },
          sync: () => h.sync(),
          close: async () => {
            open--;
            await h.close();
          },
        };
      },
    };
    const v = tensor(new Float32Array(10_000));
    const manager = new CheckpointManager(new Checkpoint({ v }), dir, {
      async: true,
      maxToKeep: 3,
      storage: slow,
      maxPendingSaves: 2,
    });
    for (let i = 0; i < 20; i++) {
      v.data.fill(i);
      await manager.save();
    }
    await manager.close();
    expect(mostOpen).toBeLessThanOrEqual(2);
    expect(manager.entries.map((e) => e.step)).toEqual([18, 19, 20]);
    const r = tensor(new Float32Array(10_000));
    await new CheckpointManager(new Checkpoint({ v: r }), dir).restoreOrInitialize();
    expect(r.data[0]).toBe(19);
  });

  it("a loop that awaits only the manager's save still lets background saves reach the disk (no event-loop turn needed from it)", async () => {
    const step = new Variable(0);
    const w = tensor(new Float32Array(50_000));
    const manager = new CheckpointManager(new Checkpoint({ w, step }), dir, {
      async: true,
      checkpointInterval: 20,
      stepCounter: step,
      maxToKeep: 3,
    });
    await manager.ready;
    let firstOnDisk: number | null = null;
    for (; step.value < 400; step.value++) {
      const until = performance.now() + 2; // a synchronous training step
      while (performance.now() < until);
      await manager.save();
      if (firstOnDisk === null && ckptFiles(dir).length > 0) firstOnDisk = step.value;
    }
    await manager.close();
    // The first save is at step 0; without turns of the event loop it reached the disk only after the loop.
    expect(firstOnDisk).not.toBeNull();
    expect(firstOnDisk!).toBeLessThan(100);
  });
});
