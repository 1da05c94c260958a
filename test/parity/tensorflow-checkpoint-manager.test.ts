/**
 * CheckpointManager held to tf.train.CheckpointManager (tensorflow/python/checkpoint/
 * checkpoint_management.py), point by point; each test names the TensorFlow behaviour.
 */
import { describe, it, expect } from 'vitest';
import {
  ArgumentError,
  Checkpoint,
  CheckpointManager,
  MANIFEST_NAME,
  MemoryStorage,
  SAVE_COUNTER,
  Variable,
  WptReader,
  latestCheckpoint,
} from '../../src/node/index.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');
const names = (paths: string[]) => paths.map((p) => p.split('/').pop());
const files = (storage: MemoryStorage) =>
  [...storage.files.keys()]
    .filter((k) => k.endsWith('.wpt'))
    .map((k) => k.split('/').pop())
    .sort();
const manifestOf = (storage: MemoryStorage) =>
  JSON.parse(new TextDecoder().decode(storage.files.get(`/run/${MANIFEST_NAME}`)));

describe('numbering', () => {
  it('by a save counter that starts at 1, is saved in the checkpoint and restored with it, so numbering continues after a restart', async () => {
    const storage = new MemoryStorage();
    const value = new Variable<number>(0);
    const first = new CheckpointManager(new Checkpoint({ value }), '/run', { storage });
    expect(names([(await first.save())!, (await first.save())!, (await first.save({ step: 100 }))!])).toEqual([
      'ckpt-1.wpt',
      'ckpt-2.wpt',
      'ckpt-100.wpt',
    ]);
    const reader = await WptReader.open('/run/ckpt-100.wpt', storage);
    expect(await reader.read(SAVE_COUNTER)).toBe(3); // an explicit number still advances the counter
    await reader.close();
    await first.close();

    const ckpt = new Checkpoint({ value: new Variable<number>(0) });
    const second = new CheckpointManager(ckpt, '/run', { storage });
    await second.restoreOrInitialize();
    expect(ckpt.saveCounter.value).toBe(3);
    expect(names([(await second.save())!])).toEqual(['ckpt-4.wpt']);
    await second.close();
  });

  it('a checkpoint written before save counters were saved gives its number (derived, so old runs keep numbering)', async () => {
    const storage = new MemoryStorage();
    const old = new Checkpoint({ value: new Variable<number>(5) });
    await old.write('/run/ckpt-7.wpt', { storage, metadata: { step: 7 } }); // no save_counter entry, as files of today's manager
    const ckpt = new Checkpoint({ value: new Variable<number>(0) });
    const manager = new CheckpointManager(ckpt, '/run', { storage });
    expect(await manager.restoreOrInitialize()).toBe('/run/ckpt-7.wpt');
    expect(ckpt.saveCounter.value).toBe(7);
    expect(names([(await manager.save())!])).toEqual(['ckpt-8.wpt']);
    await manager.close();
  });
});

describe('keepEveryNHours', () => {
  it('decided as a checkpoint leaves the newest maxToKeep, against the last preserved time, which is persisted across restarts', async () => {
    const storage = new MemoryStorage();
    let clock = T0;
    const options = { storage, maxToKeep: 1, keepEveryNHours: 1, now: () => new Date(clock) };
    const a = new CheckpointManager(new Checkpoint({ v: new Variable(1) }), '/run', options);
    await a.save(); // ckpt-1 at 0 h
    clock += HOUR;
    await a.save(); // ckpt-1 leaves: not an hour after the creation time minus 1 s: deleted
    await a.close();
    const ckpt = new Checkpoint({ v: new Variable(1) });
    const b = new CheckpointManager(ckpt, '/run', options);
    await b.restoreOrInitialize();
    for (let i = 0; i < 2; i++) {
      clock += HOUR;
      await b.save(); // ckpt-2 (1 h) leaves at 2 h: an hour after 23:59:59 → preserved; ckpt-3 (2 h) at 3 h: preserved
    }
    expect(names(b.checkpoints)).toEqual(['ckpt-4.wpt']);
    expect(names(b.preserved)).toEqual(['ckpt-2.wpt', 'ckpt-3.wpt']);
    expect(files(storage)).toEqual(['ckpt-2.wpt', 'ckpt-3.wpt', 'ckpt-4.wpt']);
    // A manager that forgot the last preserved time (reset to its own creation) would have deleted ckpt-2.
    expect(manifestOf(storage).lastPreservedTime).toBe(new Date(T0 + 2 * HOUR).toISOString());
    await b.close();
  });

  it('manager.checkpoints and the manifest list only the managed checkpoints, not the ones preserved for good', async () => {
    const storage = new MemoryStorage();
    let clock = T0;
    const m = new CheckpointManager(new Checkpoint({ v: new Variable(1) }), '/run', {
      storage,
      maxToKeep: 2,
      keepEveryNHours: 0.5,
      now: () => new Date(clock),
    });
    for (let i = 0; i < 5; i++) {
      await m.save();
      clock += HOUR;
    }
    expect(names(m.checkpoints)).toEqual(['ckpt-4.wpt', 'ckpt-5.wpt']);
    // ckpt-1 (0 h) left at 2 h, less than half an hour after 23:59:59: deleted; ckpt-2 and ckpt-3 were preserved.
    expect(names(m.preserved)).toEqual(['ckpt-2.wpt', 'ckpt-3.wpt']);
    expect(files(storage)).toEqual(['ckpt-2.wpt', 'ckpt-3.wpt', 'ckpt-4.wpt', 'ckpt-5.wpt']);
    expect(manifestOf(storage).checkpoints.map((e: { file: string }) => e.file)).toEqual(['ckpt-4.wpt', 'ckpt-5.wpt']);
    await m.close();
  });

  it('a clock behind the last preserved time: a warning, every existing checkpoint kept for good, the last preserved time reset', async () => {
    const storage = new MemoryStorage();
    let clock = T0 + 10 * HOUR;
    const options = { storage, maxToKeep: 1, keepEveryNHours: 1, now: () => new Date(clock) };
    const a = new CheckpointManager(new Checkpoint({ v: new Variable(1) }), '/run', options);
    await a.save();
    await a.close();
    clock = T0 + 5 * HOUR; // a VM migration, an NTP step
    const warnings: string[] = [];
    const b = new CheckpointManager(new Checkpoint({ v: new Variable(1) }), '/run', {
      ...options,
      warn: (w) => warnings.push(w),
    });
    await b.ready;
    expect(warnings.join()).toMatch(
      /the clock is 17999\.0 s behind the last preserved checkpoint time .*keeping every existing checkpoint for good/,
    );
    expect(names(b.preserved)).toEqual(['ckpt-1.wpt']);
    await b.save({ step: 2 });
    await b.save({ step: 3 });
    expect(files(storage)).toEqual(['ckpt-1.wpt', 'ckpt-3.wpt']); // ckpt-1 survives; ckpt-2 left the set less than an hour after 5 h
    expect(manifestOf(storage).lastPreservedTime).toBe(new Date(clock).toISOString());
    await b.close();
  });
});

describe('Checkpoint.save and latestCheckpoint(dir)', () => {
  it('ckpt.save(prefix) numbers by the save counter and records the file, so latestCheckpoint(dir) and a later manager find it', async () => {
    const storage = new MemoryStorage();
    const value = new Variable<number>(1);
    const ckpt = new Checkpoint({ value });
    expect(await ckpt.save('/run/ckpt', { storage })).toBe('/run/ckpt-1.wpt');
    value.value = 2;
    expect(await ckpt.save('/run/ckpt', { storage })).toBe('/run/ckpt-2.wpt');
    expect(await latestCheckpoint('/run', storage)).toBe('/run/ckpt-2.wpt');
    expect(await latestCheckpoint('/elsewhere', storage)).toBeNull();
    expect(storage.files.has('/run/manager.lock')).toBe(false);

    const restored = new Variable<number>(0);
    const later = new Checkpoint({ value: restored });
    const manager = new CheckpointManager(later, '/run', { storage });
    await manager.ready;
    expect(manager.latestCheckpoint).toBe('/run/ckpt-2.wpt');
    await manager.restoreOrInitialize();
    expect(restored.value).toBe(2);
    expect(await manager.save()).toBe('/run/ckpt-3.wpt');
    await manager.close();
  });
});

describe('checkpointInterval', () => {
  it('takes lastCheckpointStep as a constructor option: the interval counts from it', async () => {
    const storage = new MemoryStorage();
    const step = new Variable<number>(12);
    const m = new CheckpointManager(new Checkpoint({ step }), '/run', {
      storage,
      checkpointInterval: 10,
      stepCounter: step,
      lastCheckpointStep: 5,
    });
    expect(m.lastCheckpointStep).toBe(5);
    expect(await m.save()).toBeNull(); // 12 < 5 + 10
    step.value = 15;
    expect(await m.save()).toBe('/run/ckpt-1.wpt');
    await m.close();
    expect(() => new CheckpointManager(new Checkpoint({}), '/x', { storage, lastCheckpointStep: -1 })).toThrow(
      /lastCheckpointStep must be a non-negative integer step, got -1/,
    );
  });

  it('is refused without a stepCounter (TensorFlow raises ValueError)', () => {
    expect(
      () => new CheckpointManager(new Checkpoint({}), '/run', { storage: new MemoryStorage(), checkpointInterval: 5 }),
    ).toThrow(ArgumentError);
    expect(
      () => new CheckpointManager(new Checkpoint({}), '/run', { storage: new MemoryStorage(), checkpointInterval: 5 }),
    ).toThrow(/stepCounter must be given with checkpointInterval/);
  });

  it('lastCheckpointStep; force (check_interval=False) saves early but never twice at one step; after a restore it counts from the restored step', async () => {
    const storage = new MemoryStorage();
    const step = new Variable<number>(0);
    const m = new CheckpointManager(new Checkpoint({ step }), '/run', {
      storage,
      checkpointInterval: 10,
      stepCounter: step,
    });
    await m.ready;
    expect(m.lastCheckpointStep).toBeNull();
    expect(await m.save()).toBe('/run/ckpt-1.wpt');
    expect(m.lastCheckpointStep).toBe(0);
    expect(await m.save({ force: true })).toBeNull(); // step 0 is already saved
    step.value = 3;
    expect(await m.save()).toBeNull();
    expect(await m.save({ force: true })).toBe('/run/ckpt-2.wpt');
    expect(m.lastCheckpointStep).toBe(3);
    await m.close();

    const restoredStep = new Variable<number>(0);
    const again = new CheckpointManager(new Checkpoint({ step: restoredStep }), '/run', {
      storage,
      checkpointInterval: 10,
      stepCounter: restoredStep,
    });
    await again.restoreOrInitialize();
    expect(restoredStep.value).toBe(3);
    expect(again.lastCheckpointStep).toBe(3);
    restoredStep.value = 12;
    expect(await again.save()).toBeNull(); // 12 < 3 + 10
    restoredStep.value = 13;
    expect(await again.save()).toBe('/run/ckpt-3.wpt');
    await again.close();
  });
});

describe('checkpoints written by Checkpoint.save, then a manager', () => {
  it('are never deleted by its retention (TensorFlow records no timestamps for them, so they count as preserved), yet are restored from', async () => {
    const storage = new MemoryStorage();
    const value = new Variable<number>(1);
    const ckpt = new Checkpoint({ value });
    await ckpt.save('/run/ckpt', { storage });
    value.value = 2;
    await ckpt.save('/run/ckpt', { storage });
    const restored = new Variable<number>(0);
    const later = new Checkpoint({ value: restored });
    const manager = new CheckpointManager(later, '/run', { storage, maxToKeep: 1 });
    expect(await manager.restoreOrInitialize()).toBe('/run/ckpt-2.wpt');
    expect(restored.value).toBe(2);
    for (let i = 0; i < 3; i++) await manager.save();
    await manager.close();
    expect(files(storage)).toEqual(['ckpt-1.wpt', 'ckpt-2.wpt', 'ckpt-5.wpt']);
    expect(names(manager.checkpoints)).toEqual(['ckpt-5.wpt']);
  });
});
