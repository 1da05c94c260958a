import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import fc from 'fast-check';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import {
  Checkpoint,
  CheckpointError,
  CheckpointManager,
  MemoryStorage,
  Variable,
  BackupAndRestore,
  ModelCheckpoint,
  setDefaultStorage,
  fsStorage,
  writeFully,
  writeWpt,
  readWpt,
  tensor,
  type Storage,
} from '../../src/node/index.js';
import { FaultyStorage } from '../helpers/faulty-storage.js';
import { dataFor, makeModel } from '../../harness/training.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wpt-faults-'));
});
afterEach(() => {
  setDefaultStorage(fsStorage);
  rmSync(dir, { recursive: true, force: true });
});

/** What each errno becomes (the rule of src/checkpoint/os-errors.ts, stated independently). */
const ERRNO_CODES: Record<string, string> = { ENOSPC: 'NO_SPACE', EIO: 'IO', EACCES: 'PERMISSION_DENIED' };

describe('injected I/O faults never lose a checkpoint', () => {
  it('a fault at any point of a save rejects it with a typed error naming the cause; earlier state stays loadable; the next save succeeds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(40),
        fc.constantFrom('ENOSPC', 'EIO', 'EACCES') as fc.Arbitrary<'EIO'>,
        fc.boolean(),
        async (failAt, code, background) => {
          const memory = new MemoryStorage();
          const faulty = new FaultyStorage(memory, { failAt: null });
          const value = new Variable<number>(1);
          const manager = new CheckpointManager(new Checkpoint({ value, w: tensor([1, 2, 3]) }), '/run', {
            storage: faulty,
            maxToKeep: 2,
            async: background,
          });
          await manager.save({ step: 1 });
          await manager.flush();
          faulty.count = 0;
          faulty.plan = { failAt, code };
          value.value = 2;
          const outcome = await manager
            .save({ step: 2 })
            .then(() => manager.flush())
            .then(
              () => 'saved',
              (e: unknown) => e,
            );
          if (outcome !== 'saved') {
            expect(outcome).toBeInstanceOf(CheckpointError);
            expect((outcome as CheckpointError).code).toBe(ERRNO_CODES[code]);
            expect((outcome as Error).message).toContain(code);
            expect(faulty.injected).toHaveLength(1);
          }
          // Whatever happened, what is on "disk" restores to a value that was saved, through the manifest.
          faulty.plan = { failAt: null };
          await manager.close();
          const restored = new Variable<number>(0);
          const reopened = new CheckpointManager(new Checkpoint({ value: restored, w: tensor([0, 0, 0]) }), '/run', {
            storage: memory,
          });
          await reopened.restoreOrInitialize();
          expect([1, 2]).toContain(restored.value);
          if (outcome === 'saved') expect(restored.value).toBe(2);
          // The fault has cleared: the next save works and becomes the latest.
          restored.value = 3;
          await reopened.save({ step: 3 });
          await reopened.close();
          const last = new Variable<number>(0);
          const third = new CheckpointManager(new Checkpoint({ value: last, w: tensor([0, 0, 0]) }), '/run', {
            storage: memory,
          });
          await third.restoreOrInitialize();
          expect(last.value).toBe(3);
          expect([...memory.files.keys()].some((k) => k.endsWith('.wpt-tmp'))).toBe(false);
          await third.close();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a fault at any operation of a large save (fsyncs in flight beside later writes) rejects it and leaves the old file whole', async () => {
    const memory = new MemoryStorage();
    const faulty = new FaultyStorage(memory, { failAt: null });
    const big = (fill: number) => [
      { key: 'w', kind: 'tensor' as const, value: tensor(new Float32Array(5_000_000).fill(fill)) },
    ];
    await writeWpt('/m/big.wpt', big(1), { kind: 'weights', codec: 'raw', storage: faulty });
    faulty.count = 0;
    await writeWpt('/m/big.wpt', big(1), { kind: 'weights', codec: 'raw', storage: faulty });
    const operations = faulty.count;
    expect(faulty.injected).toHaveLength(0);
    for (let failAt = 0; failAt < operations; failAt++) {
      faulty.count = 0;
      faulty.plan = { failAt, code: 'EIO' };
      const outcome = await writeWpt('/m/big.wpt', big(2), { kind: 'weights', codec: 'raw', storage: faulty }).then(
        () => 'saved',
        (e: unknown) => e,
      );
      faulty.plan = { failAt: null };
      const { values } = await readWpt('/m/big.wpt', memory);
      const first = (values.get('w') as { data: Float32Array }).data[0];
      const fault = faulty.injected[faulty.injected.length - 1];
      // A failed write or fsync, the mid-file ones included, fails the save.
      if (fault.startsWith('sync ') || fault.startsWith('write ')) expect(outcome, fault).not.toBe('saved');
      if (outcome === 'saved') {
        expect(first).toBe(2); // the fault hit the cleanup of the replaced file, after the save was durable
      } else {
        expect((outcome as CheckpointError).code).toMatch(/^(IO|NO_SPACE|PERMISSION_DENIED)$/);
        // Until the rename the old file stays; a failed directory fsync after it leaves the new
        // file in place (whole, but not known to be durable).
        expect(fault.startsWith('syncDir') ? [1, 2] : [1], fault).toContain(first);
      }
      // A leftover only where deleting it was what failed (a CheckpointManager sweeps those).
      const leftovers = [...memory.files.keys()].filter((k) => k.endsWith('.wpt-tmp'));
      expect(leftovers.length === 0 || fault.startsWith('remove'), fault).toBe(true);
      leftovers.forEach((k) => memory.files.delete(k));
      await writeWpt('/m/big.wpt', big(1), { kind: 'weights', codec: 'raw', storage: memory });
    }
    expect(operations).toBeGreaterThan(8); // several writes and a mid-file fsync
  });

  it('short writes are continued where they stopped', async () => {
    const written: number[] = [];
    const chunks = [Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5), Uint8Array.of(6)];
    await writeFully(async (buffers) => {
      const first = buffers[0];
      written.push(...first.subarray(0, 2)); // never more than 2 bytes at a time
      return Math.min(2, first.length);
    }, chunks);
    expect(written).toEqual([1, 2, 3, 4, 5, 6]);
    await expect(writeFully(async () => 0, chunks)).rejects.toThrow(/no progress/);
  });

  it('batches of 2 GiB and more go out in calls of at most 1 GiB, whose counts a 32-bit wrap cannot corrupt (property)', async () => {
    const block = new Uint8Array(64 * 1024 * 1024); // views of one block: gigabytes without allocating them
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 1024 }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 3 }),
        async (sizesMiB, shortEvery) => {
          const buffers = sizesMiB.map((n) => block.subarray(0, Math.min(n, 64) * 1024 * 1024));
          const total = buffers.reduce((n, b) => n + b.length, 0);
          let delivered = 0,
            calls = 0;
          await writeFully(async (call) => {
            const asked = call.reduce((n, b) => n + b.length, 0);
            if (asked > 2 ** 30) throw new Error(`a call of ${asked} bytes`);
            // Node's writev reports counts of 2 GiB or more wrapped to 32 bits; a kernel may write less.
            const written = ++calls % shortEvery === 0 ? Math.ceil(asked / 2) : asked;
            delivered += written;
            return written | 0;
          }, buffers);
          expect(delivered).toBe(total);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a save that cannot fit is refused before anything is written', async () => {
    const memory = new MemoryStorage();
    const tiny: Storage = Object.assign(Object.create(memory), { freeBytes: async () => 1000 });
    const err = await writeWpt(
      '/d/big.wpt',
      [{ key: 'w', kind: 'tensor', value: tensor(new Float32Array(10_000), [10_000]) }],
      { kind: 'weights', storage: tiny },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.code).toBe('NO_SPACE');
    expect(err.message).toMatch(/needs up to [\d.]+ KiB but 1\.0 KiB are free.*nothing was written/);
    expect(memory.files.size).toBe(0);
  });

  it("fit stops on a failed save by default, and goes on with onSaveError: 'warn'", async () => {
    const [x, y] = dataFor('mlp');
    const faulty = new FaultyStorage(fsStorage, { failAt: null });
    setDefaultStorage(faulty);
    // The second write: the first is the manifest its manager records at start (a failure there is only a warning).
    const arm = () => {
      faulty.count = 0;
      faulty.plan = { failAt: 2, code: 'ENOSPC', ops: ['write'] };
    };
    arm();
    const strict = makeModel('mlp', 1);
    await expect(
      strict.fit(x, y, {
        epochs: 3,
        verbose: 0,
        callbacks: [new ModelCheckpoint({ filepath: join(dir, 'a-{epoch}.wpt'), monitor: 'loss' })],
      }),
    ).rejects.toThrow(/NO_SPACE: .*ENOSPC/);
    faulty.count = 0;
    faulty.plan = { failAt: 4, code: 'ENOSPC', ops: ['write'] }; // past both managers' start-up writes: a save
    const warnings: string[] = [];
    const lenient = makeModel('mlp', 1);
    await lenient.fit(x, y, {
      epochs: 3,
      verbose: 0,
      callbacks: [
        new BackupAndRestore({ backupDir: join(dir, 'backup'), onSaveError: 'warn', warn: (m) => warnings.push(m) }),
        new ModelCheckpoint({
          filepath: join(dir, 'b-{epoch}.wpt'),
          monitor: 'loss',
          onSaveError: 'warn',
          write: (m) => warnings.push(m),
        }),
      ],
    });
    expect(lenient.currentEpoch).toBe(3);
    expect(warnings.join('\n')).toMatch(/failed, training goes on: NO_SPACE: .*ENOSPC/);
  });
});

describe('one writer per directory', () => {
  const script = (d: string) => `
    import { Checkpoint, CheckpointManager, Variable } from '${join(import.meta.dirname, '..', '..', 'src', 'node', 'index.ts')}';
    const m = new CheckpointManager(new Checkpoint({ v: new Variable(1) }), ${JSON.stringify(d)});
    await m.ready; console.log('locked'); setTimeout(() => process.exit(0), 20000);`;

  it('a second manager gets a clear error naming the holder; a stale lock of a dead process is taken over', async () => {
    writeFileSync(join(dir, 'holder.mts'), script(join(dir, 'run')));
    const holder = spawn(process.execPath, ['--import', 'tsx', join(dir, 'holder.mts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) =>
      holder.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('locked')) resolve();
      }),
    );
    const err = await new CheckpointManager(new Checkpoint({ v: 1 }), join(dir, 'run')).ready.catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.code).toBe('LOCKED');
    expect(err.message).toContain(`is being written by pid ${holder.pid} on ${hostname()}`);

    holder.kill('SIGKILL'); // dies holding the lock
    await new Promise((r) => holder.on('exit', r));
    const warnings: string[] = [];
    const taker = new CheckpointManager(new Checkpoint({ v: 1 }), join(dir, 'run'), { warn: (m) => warnings.push(m) });
    await taker.ready;
    expect(warnings.join()).toMatch(new RegExp(`taking over the stale lock .*pid ${holder.pid} .* is gone`));
    await taker.close();
    expect(existsSync(join(dir, 'run', 'manager.lock'))).toBe(false);
  }, 30_000);

  it('a process that exits normally leaves no lock behind', () => {
    writeFileSync(
      join(dir, 'quick.mts'),
      script(join(dir, 'quick')).replace('setTimeout(() => process.exit(0), 20000)', 'process.exit(0)'),
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, 'quick.mts')], { encoding: 'utf8' });
    expect(r.stdout).toContain('locked');
    expect(readdirSync(join(dir, 'quick'))).not.toContain('manager.lock');
  });
});

describe('the crash-safe write protocol', () => {
  it('writes a temporary file in the target directory, fsyncs it, renames it over the target, then fsyncs the directory', async () => {
    const memory = new MemoryStorage();
    const log: string[] = [];
    const recording: Storage = {
      ...memory,
      list: (d) => memory.list(d),
      mkdirp: (d) => memory.mkdirp(d),
      openRead: (p) => memory.openRead(p),
      remove: (p) => memory.remove(p),
      freeBytes: () => memory.freeBytes(),
      createExclusive: async (p) => {
        log.push(`create ${p}`);
        const h = await memory.createExclusive(p);
        return {
          write: async (b) => {
            log.push('write');
            await h.write(b);
          },
          sync: async () => {
            log.push('fsync file');
            await h.sync();
          },
          close: async () => {
            log.push('close');
            await h.close();
          },
        };
      },
      rename: async (a, b) => {
        log.push(`rename ${a} -> ${b}`);
        await memory.rename(a, b);
      },
      syncDir: async (d) => {
        log.push(`fsync dir ${d}`);
      },
    };
    await writeWpt('/d/x.wpt', [{ key: 'w', kind: 'tensor', value: tensor([1, 2]) }], {
      kind: 'weights',
      storage: recording,
    });
    const tmp = log[0].slice('create '.length);
    expect(tmp).toMatch(/^\/d\/\.x\.wpt\..*\.wpt-tmp$/);
    expect(log).toEqual([`create ${tmp}`, 'write', 'fsync file', 'close', `rename ${tmp} -> /d/x.wpt`, 'fsync dir /d']);
  });
});
