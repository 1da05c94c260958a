import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint, CheckpointManager, Variable, tensor, selectBest, MANIFEST_NAME, Sequential, Dense, CheckpointError } from '../src/node/index.js';
import { dataFor, makeModel } from '../harness/training.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'wpt-mgr-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ckptFiles = (d: string) => readdirSync(d).filter((f) => f.endsWith('.wpt')).sort();

describe('CheckpointManager retention', () => {
  it('keeps exactly what maxToKeep + bestOf + the newest say, across any sequence of saves and restarts', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.oneof(fc.record({ save: fc.double({ min: 0, max: 10, noNaN: true }) }), fc.constant({ restart: true as const })), { minLength: 1, maxLength: 12 }),
      fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
      fc.option(fc.record({ keep: fc.integer({ min: 1, max: 2 }), mode: fc.constantFrom<'min' | 'max'>('min', 'max') }), { nil: null }),
      async (ops, maxToKeep, best) => {
        const d = mkdtempSync(join(dir, 'p-'));
        const step = new Variable<number>(0);
        const options = { maxToKeep, bestOf: best ? { monitor: 'val_loss', mode: best.mode, keep: best.keep } : null };
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
            [...saved].sort((a, b) => (best.mode === 'min' ? a.loss - b.loss : b.loss - a.loss) || b.step - a.step)
              .slice(0, best.keep).forEach((s) => keep.add(s.step));
          }
          const expected = [...keep].sort((a, b) => a - b).map((s) => `ckpt-${s}.wpt`);
          expect(ckptFiles(d)).toEqual([...expected].sort());
          expect(manager.entries.map((e) => e.file)).toEqual(expected);
          // Ops that were dropped by retention stay dropped in the reference too.
          for (let i = saved.length - 1; i >= 0; i--) if (!keep.has(saved[i].step)) saved.splice(i, 1);
        }
      }), { numRuns: 40 });
  });

  it('keepEveryNHours preserves, as a checkpoint leaves the newest maxToKeep, one per period for good (TensorFlow _sweep)', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const manager = new CheckpointManager(new Checkpoint({ v: 1 }), dir, { maxToKeep: 1, keepEveryNHours: 1, now: () => new Date(clock) });
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
    const manager = new CheckpointManager(new Checkpoint({ w: tensor(new Float32Array(1000).fill(1)) }), dir, { maxToKeep: null, maxBytes: 1 });
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
    expect(await manager.restoreOrInitialize(() => { initialized = true; })).toBeNull();
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
    expect(readdirSync(dir).sort()).toEqual(['ckpt-1.wpt', 'ckpt-2.wpt', 'ckpt-4.wpt', MANIFEST_NAME, 'manager.lock'].sort());
    expect(again.entries.map((e) => [e.step, e.metrics.loss])).toEqual([[1, 0.5], [2, 0.25]]);
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
    const model = new Sequential([new Dense({ units: 4, inputShape: [6] }), new Dense({ units: 3, activation: 'softmax' })], { seed: 1 });
    await model.saveWeights(join(dir, 'w.wpt'));
    const other = new Sequential([new Dense({ units: 4, inputShape: [6] }), new Dense({ units: 2, activation: 'sigmoid' })], { seed: 2 });
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
