/**
 * What saves cost, as the run records it: each manifest entry's `cost` (blocked, encode,
 * write, sync, durable-after milliseconds; bytes before and after encoding),
 * `checkpoint_overhead` in the logs when a saving callback asks for it, and `waypoint inspect
 * RUN_DIR`'s summary of a run's saves.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BackupAndRestore,
  CSVLogger,
  CheckpointManager,
  MemoryStorage,
  ModelCheckpoint,
  TensorBoard,
  readRun,
  trainingCheckpoint,
} from '../../src/node/index.js';
import { readFileIfExists } from '../../src/storage/storage.js';
import { dataFor, makeModel } from '../../harness/training.js';

const manifestOf = (storage: MemoryStorage, path: string) =>
  JSON.parse(new TextDecoder().decode(storage.files.get(path))) as {
    checkpoints: Array<{ file: string; size: number; cost: Record<string, number> }>;
  };

describe("a save's cost in the manifest", () => {
  for (const async of [false, true])
    it(`${async ? 'a background' : 'a'} save records blocked, encode, write, sync and durable-after times and its bytes`, async () => {
      const storage = new MemoryStorage();
      const model = makeModel('mlp', 1);
      const manager = new CheckpointManager(trainingCheckpoint(model), '/run', { storage, async });
      await manager.save();
      await manager.close();
      const [entry] = manifestOf(storage, '/run/manifest.json').checkpoints;
      expect(Object.keys(entry.cost).sort()).toEqual(
        ['blockedMs', 'bytes', 'durableAfterMs', 'encodeMs', 'storedBytes', 'syncMs', 'writeMs'].sort(),
      );
      for (const v of Object.values(entry.cost)) expect(v).toBeGreaterThanOrEqual(0);
      expect(entry.cost.storedBytes).toBe(entry.size);
      expect(entry.cost.storedBytes).toBe(storage.files.get(`/run/${entry.file}`)!.length);
      const weights = model.getWeights().reduce((n, w) => n + 4 * w.size, 0);
      expect(entry.cost.bytes).toBeGreaterThan(weights); // the weights, the optimizer's slots, the JSON entries
      expect(entry.cost.blockedMs).toBeLessThanOrEqual(entry.cost.durableAfterMs);
    });
});

describe('checkpoint_overhead', () => {
  it('is logged at each epoch end when a saving callback asks (logOverhead), into History, CSVLogger and TensorBoard; not otherwise', async () => {
    const [x, y] = dataFor('mlp');
    const storage = new MemoryStorage();
    const model = makeModel('mlp', 2);
    const history = await model.fit(x, y, {
      epochs: 3,
      batchSize: 8,
      verbose: 0,
      callbacks: [
        new BackupAndRestore({ backupDir: '/b', storage, saveFreq: 2, logOverhead: true, deleteCheckpoint: false }),
        new CSVLogger('/log.csv', { storage }),
        new TensorBoard({ logDir: '/tb', storage }),
      ],
    });
    const overhead = history.history.checkpoint_overhead;
    expect(overhead).toHaveLength(3);
    for (const v of overhead) expect(v > 0 && v < 1, `share ${v}`).toBe(true);
    const csv = new TextDecoder().decode((await readFileIfExists(storage, '/log.csv'))!);
    expect(csv.split('\n')[0].split(',')).toContain('checkpoint_overhead');
    const train = await readRun(storage, '/tb', 'train');
    expect(train.scalars.get('epoch_checkpoint_overhead')?.length).toBe(3);

    const plain = await makeModel('mlp', 2).fit(x, y, {
      epochs: 1,
      verbose: 0,
      callbacks: [new ModelCheckpoint({ filepath: '/c/{epoch}.wpt', storage })],
    });
    expect(plain.history.checkpoint_overhead).toBeUndefined();
  });
});

describe('waypoint inspect RUN_DIR', () => {
  it("summarises the run's saves from every manifest in it", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpt-costs-'));
    try {
      const [x, y] = dataFor('mlp');
      await makeModel('mlp', 3).fit(x, y, {
        epochs: 2,
        batchSize: 8,
        verbose: 0,
        callbacks: [
          new BackupAndRestore({ backupDir: join(dir, 'backup'), saveFreq: 3, deleteCheckpoint: false }),
          new ModelCheckpoint({ filepath: join(dir, 'ckpt', '{epoch}.wpt') }),
        ],
      });
      const bin = join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js');
      const r = spawnSync('node', [bin, 'inspect', dir], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/2 manifests/);
      expect(r.stdout).toMatch(/blocked ms \(median\)/);
      expect(r.stdout).toMatch(/backup[/\\]manifest\.json\s+1\s+[\d.]+/);
      expect(r.stdout).toMatch(/ckpt[/\\]\.[^ ]*manifest\.json\s+2\s+[\d.]+/);
      const empty = mkdtempSync(join(tmpdir(), 'wpt-costs-empty-'));
      expect(spawnSync('node', [bin, 'inspect', empty], { encoding: 'utf8' }).stderr).toMatch(
        /holds no checkpoint manifest/,
      );
      rmSync(empty, { recursive: true, force: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
