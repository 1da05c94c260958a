/**
 * Every callback keeps to the Storage it was given: a run over MemoryStorage whose paths name
 * a real directory creates, changes and deletes nothing on the real disk; deleting a finished
 * backup deletes only the files the backup wrote.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BackupAndRestore,
  CSVLogger,
  Callback,
  EarlyStopping,
  MemoryStorage,
  ModelCheckpoint,
  TerminateOnNaN,
  fsStorage,
  getDefaultStorage,
  loadModel,
  setDefaultStorage,
  type Storage,
} from '../../src/node/index.js';
import { dataFor, fingerprint, makeModel } from '../../harness/training.js';

let real: string;
beforeEach(() => {
  real = mkdtempSync(join(tmpdir(), 'wpt-isolation-'));
  mkdirSync(join(real, 'run', 'backup'), { recursive: true });
  writeFileSync(join(real, 'user.txt'), 'a user file');
  writeFileSync(join(real, 'run', 'backup', 'user-data.bin'), 'the user keeps this in the backup directory');
});
afterEach(() => {
  setDefaultStorage(fsStorage);
  rmSync(real, { recursive: true, force: true });
});

/** Every path under `dir` with its size, modification time and content hash. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name),
        st = statSync(p);
      if (st.isDirectory()) {
        out[`${p}/`] = String(st.mtimeMs);
        walk(p);
      } else out[p] = `${st.size} ${st.mtimeMs} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }
  };
  walk(dir);
  return out;
}

class StopAt extends Callback {
  private n = 0;
  constructor(private readonly at: number) {
    super();
  }
  override async onBatchEnd() {
    if (++this.n === this.at) void this.model.interrupt('test');
  } // awaiting it here would wait for this very fit
}

/** Every callback that touches files, at settings that make each one write, rotate and delete. */
function callbacks(storage: Storage | undefined, extra: Callback[] = []): Callback[] {
  const run = join(real, 'run');
  return [
    new BackupAndRestore({ backupDir: join(run, 'backup'), saveFreq: 3, storage }),
    new ModelCheckpoint({
      filepath: join(run, 'ckpt', '{epoch:02d}.wpt'),
      monitor: 'loss',
      maxToKeep: 2,
      saveLast: join(run, 'last.wpt'),
      storage,
    }),
    new ModelCheckpoint({
      filepath: join(run, 'best.wpt'),
      monitor: 'val_loss',
      saveBestOnly: true,
      saveWeightsOnly: true,
      storage,
    }),
    new CSVLogger(join(run, 'log.csv'), { append: true, storage }),
    new EarlyStopping({ monitor: 'val_loss', patience: 50 }),
    new TerminateOnNaN({ write: () => undefined }),
    ...extra,
  ];
}

describe('callbacks over MemoryStorage beside a real directory', () => {
  for (const how of ['given to each callback', 'set as the default storage'] as const) {
    it(`${how}: an interrupted and resumed run touches nothing on disk, and the backup's deletion spares the user's file`, async () => {
      const memory = new MemoryStorage();
      memory.files.set(join(real, 'run', 'backup', 'user-data.bin'), new TextEncoder().encode('kept in memory too'));
      const given = how === 'given to each callback' ? memory : undefined;
      if (!given) setDefaultStorage(memory);
      const before = snapshot(real);
      const [x, y] = dataFor('mlp', 60, 2);
      const options = { epochs: 4, batchSize: 8, verbose: 0 as const, validationSplit: 0.2 };

      const first = makeModel('mlp', 3);
      await expect(first.fit(x, y, { ...options, callbacks: callbacks(given, [new StopAt(9)]) })).rejects.toThrow(
        /interrupted \(test\)/,
      );
      const resumed = makeModel('mlp', 3);
      await resumed.fit(x, y, { ...options, callbacks: callbacks(given) });
      const straight = makeModel('mlp', 3);
      await straight.fit(x, y, options);

      expect(snapshot(real)).toEqual(before);
      expect(existsSync(join(real, 'run', 'ckpt'))).toBe(false);
      expect(fingerprint(resumed)).toEqual(fingerprint(straight));
      const names = [...memory.files.keys()].map((k) => k.slice(real.length + 1)).sort();
      // Each ModelCheckpoint's manager keeps a manifest beside its files; maxToKeep: 2 left two epochs.
      expect(names).toEqual([
        'run/.best.wpt.manifest.json',
        'run/backup/user-data.bin',
        'run/best.wpt',
        'run/ckpt/._epoch_02d_.wpt.manifest.json',
        'run/ckpt/03.wpt',
        'run/ckpt/04.wpt',
        'run/last.wpt',
        'run/log.csv',
      ]);
      expect(
        new TextDecoder()
          .decode(memory.files.get(join(real, 'run', 'log.csv')))
          .trim()
          .split('\n'),
      ).toHaveLength(5);
      expect((await loadModel(join(real, 'run', 'last.wpt'), { storage: memory })).currentEpoch).toBe(4);
      expect(getDefaultStorage()).toBe(given ? fsStorage : memory);
    });
  }

  it("on the real disk, a finished backup deletes its own files and leaves the user's (and so the directory)", async () => {
    const [x, y] = dataFor('mlp', 40, 2);
    const backupDir = join(real, 'run', 'backup');
    writeFileSync(join(backupDir, '.hidden-user-file.wpt-tmp'), 'looks like debris, is not ours');
    await makeModel('mlp', 1).fit(x, y, {
      epochs: 2,
      batchSize: 8,
      verbose: 0,
      callbacks: [new BackupAndRestore({ backupDir, saveFreq: 2 })],
    });
    expect(readdirSync(backupDir).sort()).toEqual(['.hidden-user-file.wpt-tmp', 'user-data.bin']);
    rmSync(join(backupDir, 'user-data.bin'));
    rmSync(join(backupDir, '.hidden-user-file.wpt-tmp'));
    await makeModel('mlp', 1).fit(x, y, {
      epochs: 2,
      batchSize: 8,
      verbose: 0,
      callbacks: [new BackupAndRestore({ backupDir })],
    });
    expect(existsSync(backupDir)).toBe(false); // nothing else in it: the directory goes too
  });
});
