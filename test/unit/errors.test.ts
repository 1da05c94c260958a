/** Bad paths, full or read-only disks and bad options: each a typed error naming the problem. */
import { describe, it, expect, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ArgumentError,
  BackupAndRestore,
  CSVLogger,
  Checkpoint,
  CheckpointError,
  CheckpointManager,
  EarlyStopping,
  MemoryStorage,
  ModelCheckpoint,
  Variable,
  osError,
} from '../../src/node/index.js';
import { sizesThatDiffer } from '../../src/checkpoint/format/writer.js';
import { dataFor, makeModel } from '../../harness/training.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
const dir = mkdtempSync(join(tmpdir(), 'wpt-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('operating-system errors', () => {
  it('map to codes that name the path and what to do', () => {
    const errno = (code: string) => Object.assign(new Error(`${code}: raw`), { code, path: '/x/.tmp' });
    const cases: Array<[string, string, RegExp]> = [
      ['EROFS', 'READ_ONLY', /read-only: choose a writable directory/],
      ['EACCES', 'PERMISSION_DENIED', /permission denied/],
      ['EPERM', 'PERMISSION_DENIED', /not permitted/],
      ['EISDIR', 'IS_A_DIRECTORY', /is a directory, not a file/],
      ['ENOTDIR', 'NOT_A_DIRECTORY', /is a file, not a directory/],
      ['EEXIST', 'ALREADY_EXISTS', /already exists/],
      ['ENOSPC', 'NO_SPACE', /volume is full/],
      ['EIO', 'IO', /EIO/],
    ];
    for (const [code, ours, advice] of cases) {
      const e = osError('saving', '/x/model.wpt', errno(code));
      expect(e.code, code).toBe(ours);
      expect(e.message).toMatch(advice);
      expect(e.message).toContain('/x/model.wpt');
      expect(e.message).toContain(code);
    }
  });

  it('the CLI prints them as one line, never "unexpected"', () => {
    const cases: Array<[string[], RegExp]> = [
      [['inspect', '/etc/passwd/x.wpt'], /^waypoint inspect: NOT_A_DIRECTORY: /],
      [
        ['inspect', '/no/such/file.wpt'],
        /^waypoint inspect: NOT_FOUND: cannot open the file: no such file or directory \(ENOENT\) \(file \/no\/such\/file\.wpt\)$/,
      ],
    ];
    for (const [args, expected] of cases) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr.trim()).toMatch(expected);
      expect(r.stderr).not.toMatch(/unexpected/);
    }
    // A directory is a run to summarise: one without a manifest is a usage error, said in one line.
    const run = cli('inspect', dir);
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toMatch(/^waypoint inspect: .* holds no checkpoint manifest \(manifest\.json\)/);
  });

  const readOnly = spawnSync(
    'unshare',
    ['--mount', 'sh', '-c', `mount -t tmpfs -o ro tmpfs ${dir} && touch ${dir}/x`],
    { encoding: 'utf8' },
  );
  const canMountReadOnly = /Read-only file system/.test(readOnly.stderr);
  if (!canMountReadOnly)
    console.log(
      `SKIPPED: the read-only volume test (unshare --mount with a read-only tmpfs failed: ${readOnly.stderr.trim() || readOnly.error?.message})`,
    );
  it.skipIf(!canMountReadOnly)(
    'waypoint train on a read-only volume: READ_ONLY, one line',
    () => {
      const ro = join(dir, 'ro');
      mkdirSync(ro);
      const r = spawnSync(
        'unshare',
        [
          '--mount',
          'sh',
          '-c',
          `mount -t tmpfs -o ro tmpfs ${ro} && exec ${process.execPath} ${BIN} train --model mlp --epochs 1 --run ${ro}/run`,
        ],
        { encoding: 'utf8', env: { ...process.env, WAYPOINT_BACKEND: 'cpu' } },
      );
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toMatch(
        new RegExp(
          `^waypoint train: READ_ONLY: cannot create the run directory: the file system is mounted read-only: choose a writable directory \\(EROFS.*\\) \\(file ${ro}/run\\)$`,
        ),
      );
    },
    60_000,
  );

  it('NO_SPACE prints sizes with as many decimals as it takes to tell them apart', () => {
    expect(sizesThatDiffer(104_857, 104_850)).toEqual(['102.40 KiB', '102.39 KiB']);
    expect(sizesThatDiffer(110_000_000, 109_999_000)).toEqual(['104.904 MiB', '104.903 MiB']);
    expect(sizesThatDiffer(700, 900)).toEqual(['700 bytes', '900 bytes']);
    expect(sizesThatDiffer(5_000_000, 1_000)).toEqual(['4.8 MiB', '0.0 MiB']);
  });

  it('CSVLogger on a directory path: IS_A_DIRECTORY, and no temporary file left', async () => {
    const target = join(dir, 'log-is-a-dir');
    mkdirSync(target);
    const [x, y] = dataFor('mlp', 16, 1);
    const err = await makeModel('mlp', 1)
      .fit(x, y, { epochs: 1, verbose: 0, callbacks: [new CSVLogger(target)] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.code).toBe('IS_A_DIRECTORY');
    expect(err.message).toContain(target);
    expect(readdirSync(dir).filter((n) => n.includes('.tmp') || n.includes('wpt-tmp'))).toEqual([]);
    expect(readdirSync(target)).toEqual([]);
  });
});

describe('negative numbers on the command line', () => {
  it('are read in --opt=-1 and --opt -1 alike, and refused with the rule they break', () => {
    for (const args of [['--epochs', '-1'], ['--epochs=-1'], ['--every-batches', '-5']]) {
      const r = cli('train', '--model', 'mlp', ...args, '--run', join(dir, 'neg'));
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim()).toMatch(
        /^waypoint train: --(epochs|every-batches) must be an integer ≥ 1, got '-(1|5)'$/,
      );
    }
    expect(existsSync(join(dir, 'neg'))).toBe(false);
  });
});

describe('options that would misbehave later are refused at once, by name and rule', () => {
  const ckpt = () => new Checkpoint({ v: new Variable(1) });
  const cases: Array<[string, () => unknown, RegExp]> = [
    [
      'keepEveryNHours: -1',
      () => new CheckpointManager(ckpt(), '/r', { storage: new MemoryStorage(), keepEveryNHours: -1 }),
      /keepEveryNHours must be a positive number of hours or null, got -1/,
    ],
    [
      "bestOf.mode: 'sideways'",
      () =>
        new CheckpointManager(ckpt(), '/r', {
          storage: new MemoryStorage(),
          bestOf: { monitor: 'loss', mode: 'sideways' as 'min' },
        }),
      /bestOf\.mode must be 'min', 'max' or 'auto', got 'sideways'/,
    ],
    [
      'bestOf.keep: 0',
      () => new CheckpointManager(ckpt(), '/r', { storage: new MemoryStorage(), bestOf: { monitor: 'loss', keep: 0 } }),
      /bestOf\.keep must be a positive integer, got 0/,
    ],
    [
      'checkpointInterval: -5',
      () => new CheckpointManager(ckpt(), '/r', { storage: new MemoryStorage(), checkpointInterval: -5 }),
      /checkpointInterval must be a non-negative integer of steps, got -5/,
    ],
    [
      'directory: ""',
      () => new CheckpointManager(ckpt(), '', { storage: new MemoryStorage() }),
      /directory must be a non-empty path/,
    ],
    [
      'EarlyStopping patience: -1',
      () => new EarlyStopping({ patience: -1 }),
      /patience must be a non-negative integer of epochs, got -1/,
    ],
    [
      "BackupAndRestore backupDir: ''",
      () => new BackupAndRestore({ backupDir: '' }),
      /backupDir must be a non-empty directory path, got ""/,
    ],
    [
      'BackupAndRestore without backupDir',
      () => new BackupAndRestore({} as { backupDir: string }),
      /backupDir must be a non-empty directory path, got undefined/,
    ],
    [
      "ModelCheckpoint filepath: ''",
      () => new ModelCheckpoint({ filepath: '' }),
      /filepath must be a non-empty path template/,
    ],
    ["CSVLogger path: ''", () => new CSVLogger(''), /path must be a non-empty file path/],
  ];
  for (const [name, make, message] of cases) {
    it(name, () => {
      expect(make).toThrow(ArgumentError);
      expect(make).toThrow(message);
    });
  }

  it('fit: yieldEveryMs must be a non-negative number', async () => {
    const [x, y] = dataFor('mlp', 8, 1);
    await expect(makeModel('mlp', 1).fit(x, y, { verbose: 0, yieldEveryMs: -1 })).rejects.toThrow(
      /yieldEveryMs must be a non-negative number/,
    );
  });
});

describe('the error family', () => {
  it('every error class the package exports is a WaypointError', async () => {
    const api = await import('../../src/node/index.js');
    const { ProtoError } = await import('../../src/protobuf/protobuf.js');
    const { InflateError } = await import('../../src/checkpoint/codec/inflate.js');
    const classes = Object.entries({ ...api, ProtoError, InflateError }).filter(
      ([name, v]) => typeof v === 'function' && /^[A-Z]\w*Error$/.test(name),
    );
    expect(classes.length).toBeGreaterThan(8);
    for (const [name, cls] of classes)
      expect(
        (cls as { prototype: object }).prototype instanceof api.WaypointError || cls === api.WaypointError,
        name,
      ).toBe(true);
  });
});
