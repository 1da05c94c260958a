/**
 * Runs in and out of storages (src/runs): the run archive round-trips any tree of files
 * exactly (property), `tar` lists it, an interrupted run exported from the file system and
 * imported into another storage resumes bit-identical to a straight run, a damaged, cut or
 * path-escaping archive is refused before anything is written, and copyRun carries a run to
 * S3 (s3rver) and back.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BackupAndRestore,
  CSVLogger,
  CheckpointError,
  MemoryStorage,
  copyRun,
  exportRun,
  fsStorage,
  importRun,
  listRuns,
  type Storage,
} from '../../src/node/index.js';
import { S3Storage } from '../../src/s3/index.js';
import { fileHeader, padding } from '../../src/runs/tar.js';
import { Crash, CrashAt } from '../helpers/crash-at.js';
import { dataFor, fingerprint, makeModel } from '../../harness/training.js';
import { type S3Server, startS3rver } from '../../harness/s3-servers.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js');
let root: string;
let s3: S3Server;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'wpt-runs-'));
  s3 = await startS3rver();
});
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await s3.close();
});

async function put(storage: Storage, path: string, bytes: Uint8Array) {
  await storage.mkdirp(path.split('/').slice(0, -1).join('/') || '.');
  const h = await storage.createExclusive(path);
  await h.write([bytes]);
  await h.close();
}

async function filesIn(storage: Storage, dir: string, under = ''): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const name of await storage.list(join(dir, under))) {
    const path = under ? `${under}/${name}` : name;
    const isDir = await storage.list(join(dir, path)).then(
      () => true,
      () => false,
    );
    if (isDir) Object.assign(out, await filesIn(storage, dir, path));
    else {
      const h = await storage.openRead(join(dir, path));
      out[path] = Array.from(await h.read(0, h.size));
      await h.close();
    }
  }
  return out;
}

describe('run archives', () => {
  it('round-trip any tree of files exactly: export, then import into another storage (property)', async () => {
    const name = fc
      .stringMatching(/^[a-z0-9_.-]{1,12}$/)
      .filter((n) => n !== '.' && n !== '..' && !n.endsWith('.lock'));
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(fc.array(name, { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 3000 })), {
          minLength: 1,
          maxLength: 8,
          selector: ([parts]) => parts[0],
        }),
        async (tree) => {
          const source = new MemoryStorage();
          for (const [i, [parts, size]] of tree.entries())
            await put(
              source,
              ['run', ...parts].join('/'),
              Uint8Array.from({ length: size }, (_, j) => (j * 7 + i) & 255),
            );
          const archive = await exportRun(source, 'run');
          const target = new MemoryStorage();
          const index = await importRun(archive, target, 'copy');
          expect(index.files.length).toBe(tree.length);
          expect(await filesIn(target, 'copy')).toEqual(await filesIn(source, 'run'));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('an interrupted run exported from the file system and imported into memory resumes bit-identical; tar lists the archive', async () => {
    const [x, y] = dataFor('dropout');
    const options = { epochs: 3, batchSize: 8, verbose: 0 as const };
    const straight = makeModel('dropout', 5);
    await straight.fit(x, y, options);
    const run = join(root, 'run-a');
    const callbacks = (storage: Storage, dir: string) => [
      new BackupAndRestore({ backupDir: join(dir, 'backup'), saveFreq: 2, storage }),
      new CSVLogger(join(dir, 'log.csv'), { storage }),
    ];
    const first = makeModel('dropout', 5);
    await expect(
      first.fit(x, y, { ...options, callbacks: [...callbacks(fsStorage, run), new CrashAt(9)] }),
    ).rejects.toBeInstanceOf(Crash);
    const archive = join(root, 'run-a.tar');
    await exportRun(fsStorage, run, { storage: fsStorage, path: archive });
    const listed = spawnSync('tar', ['-tf', archive], { encoding: 'utf8' });
    expect(listed.stdout.trim().split('\n')).toEqual(
      expect.arrayContaining(['backup/manifest.json', 'log.csv', 'waypoint-run.json']),
    );
    const memory = new MemoryStorage();
    await importRun({ storage: fsStorage, path: archive }, memory, 'moved');
    expect((await listRuns(memory)).map((r) => r.dir)).toEqual(['moved']);
    const resumed = makeModel('dropout', 5);
    await resumed.fit(x, y, { ...options, callbacks: callbacks(memory, 'moved') });
    expect(fingerprint(resumed)).toEqual(fingerprint(straight));
  });

  it('a damaged, cut or path-escaping archive is refused, naming the problem, and nothing is written', async () => {
    const source = new MemoryStorage();
    await put(source, 'run/backup/manifest.json', new TextEncoder().encode('{"checkpoints":[]}'));
    await put(
      source,
      'run/ckpt.wpt',
      Uint8Array.from({ length: 5000 }, (_, i) => i & 255),
    );
    const archive = await exportRun(source, 'run');
    const refused = async (bytes: Uint8Array) => {
      const target = new MemoryStorage();
      const e = await importRun(bytes, target, 'dest').catch((err: CheckpointError) => err);
      expect(target.files.size).toBe(0);
      return e as CheckpointError;
    };
    const damaged = archive.slice();
    damaged[512 * 3 + 1000] ^= 1; // inside ckpt.wpt's data (after manifest.json's header and data, and its own header)
    const e1 = await refused(damaged);
    expect(e1.code).toBe('CHECKSUM_MISMATCH');
    expect(e1.message).toMatch(/'ckpt\.wpt' does not match its SHA-256 in waypoint-run\.json; nothing was written/);
    const e2 = await refused(archive.subarray(0, 3000));
    expect(e2.code).toBe('TRUNCATED');
    // A hand-made archive whose member climbs out of the run, listed in its index with the right digest.
    const evil = new TextEncoder().encode('x');
    const index = new TextEncoder().encode(
      JSON.stringify({
        format: 'waypoint-run',
        version: 1,
        created: '',
        files: [
          {
            path: '../escape.txt',
            size: 1,
            sha256: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881',
          },
        ],
      }),
    );
    const parts = [
      fileHeader('../escape.txt', 1, 0),
      evil,
      padding(1),
      fileHeader('waypoint-run.json', index.length, 0),
      index,
      padding(index.length),
      new Uint8Array(1024),
    ];
    const crafted = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (crafted.set(p, at), at + p.length), 0);
    const e3 = await refused(crafted);
    expect(e3.code).toBe('UNSAFE_PATH');
    expect(e3.message).toMatch(/escape\.txt/);
    expect(await refused(new Uint8Array(4096).fill(7))).toMatchObject({ code: 'MALFORMED_HEADER' });
  });

  it('waypoint run export | import | list move a run through an archive file on the command line', async () => {
    const run = join(root, 'cli', 'run');
    await put(fsStorage, join(run, 'backup/manifest.json'), new TextEncoder().encode('{}'));
    await put(fsStorage, join(run, 'log.csv'), new TextEncoder().encode('epoch,loss\n'));
    const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
    const exported = cli('run', 'export', run, join(root, 'cli', 'run.tar'));
    expect(exported.stdout).toMatch(/^wrote .*run\.tar: 2 files of/);
    const imported = cli('run', 'import', join(root, 'cli', 'run.tar'), join(root, 'cli', 'again'));
    expect(imported.stdout).toMatch(/^imported 2 files into .*again, each verified against its SHA-256/);
    expect(
      cli('run', 'list', join(root, 'cli'))
        .stdout.trim()
        .split('\n')
        .map((l) => l.split('  ')[0]),
    ).toEqual([join(root, 'cli', 'again'), join(root, 'cli', 'run')]);
    const again = cli('run', 'import', join(root, 'cli', 'run.tar'), join(root, 'cli', 'again'));
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/ALREADY_EXISTS: .*again already holds files/);
  });

  it('copyRun carries a run from the file system to S3 and back, every file the same; importing over files is refused', async () => {
    const run = join(root, 'run-b');
    await put(fsStorage, join(run, 'backup/manifest.json'), new TextEncoder().encode('{}'));
    await put(
      fsStorage,
      join(run, 'backup/ckpt-1.wpt'),
      Uint8Array.from({ length: 70_000 }, (_, i) => (i * 13) & 255),
    );
    await put(fsStorage, join(run, 'log.csv'), new TextEncoder().encode('epoch,loss\n0,1\n'));
    writeFileSync(join(run, 'backup', 'manager.lock'), 'a lock is never carried');
    const bucket = new S3Storage({
      endpoint: s3.endpoint,
      bucket: await s3.bucket(),
      credentials: s3.credentials,
      warn: () => undefined,
    });
    const there = await copyRun({ storage: fsStorage, dir: run }, { storage: bucket, dir: 'runs/b' });
    expect(there.files.sort()).toEqual(['backup/ckpt-1.wpt', 'backup/manifest.json', 'log.csv']);
    const back = join(root, 'run-b-back');
    await copyRun({ storage: bucket, dir: 'runs/b' }, { storage: fsStorage, dir: back });
    const original = await filesIn(fsStorage, run);
    delete original['backup/manager.lock'];
    expect(await filesIn(fsStorage, back)).toEqual(original);
    await expect(copyRun({ storage: fsStorage, dir: run }, { storage: fsStorage, dir: back })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
    });
    expect((await listRuns(bucket, 'runs')).map((r) => r.dir)).toEqual(['runs/b']);
  });
});
