import { describe, it, expect } from 'vitest';
import { CheckpointError, MemoryStorage, ModelCheckpoint, loadModel } from '../../src/node/index.js';
import { dataFor, makeModel } from '../../harness/training.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** ModelCheckpoint's files are a CheckpointManager's: retention, adoption and locking are the manager's rules. */
describe('ModelCheckpoint on CheckpointManager', () => {
  const [x, y] = dataFor('mlp');
  const names = (storage: MemoryStorage) => [...storage.files.keys()].sort();
  const fit = (callbacks: ModelCheckpoint[], epochs: number, initialEpoch = 0) =>
    makeModel('mlp', 1).fit(x, y, { epochs, initialEpoch, verbose: 0, callbacks });

  it('maxToKeep counts the files of an earlier fit of the same template (a restarted process keeps N in all)', async () => {
    const storage = new MemoryStorage();
    const template = '/run/ckpt/e{epoch}.wpt';
    await fit([new ModelCheckpoint({ filepath: template, monitor: 'loss', maxToKeep: 2, storage })], 3);
    expect(names(storage)).toEqual(['/run/ckpt/.e_epoch_.wpt.manifest.json', '/run/ckpt/e2.wpt', '/run/ckpt/e3.wpt']);
    await fit([new ModelCheckpoint({ filepath: template, monitor: 'loss', maxToKeep: 2, storage })], 5, 3);
    expect(names(storage)).toEqual(['/run/ckpt/.e_epoch_.wpt.manifest.json', '/run/ckpt/e4.wpt', '/run/ckpt/e5.wpt']);
    const manifest = JSON.parse(new TextDecoder().decode(storage.files.get('/run/ckpt/.e_epoch_.wpt.manifest.json')));
    expect(manifest.checkpoints.map((e: { file: string; epoch: number }) => [e.file, e.epoch])).toEqual([
      ['e4.wpt', 4],
      ['e5.wpt', 5],
    ]);
    expect(manifest.checkpoints[1].metrics.loss).toBeGreaterThan(0);
    expect((await loadModel('/run/ckpt/e5.wpt', { storage })).currentEpoch).toBe(5);
  });

  it('a file of the template the manifest does not list is adopted if it verifies, left with a warning if not', async () => {
    const storage = new MemoryStorage();
    const lines: string[] = [];
    const template = '/run/e{epoch}.wpt';
    await fit([new ModelCheckpoint({ filepath: template, monitor: 'loss', storage })], 2);
    // As a kill between a save and its manifest update would leave them: a good file, and a torn one.
    storage.files.set('/run/e9.wpt', storage.files.get('/run/e2.wpt')!.slice());
    storage.files.set('/run/e8.wpt', storage.files.get('/run/e2.wpt')!.slice(0, 100));
    storage.files.set('/run/notes.wpt', new Uint8Array([1, 2, 3])); // not the template's: untouched
    await fit(
      [
        new ModelCheckpoint({
          filepath: template,
          monitor: 'loss',
          maxToKeep: 3,
          storage,
          write: (l) => lines.push(l),
        }),
      ],
      3,
      2,
    );
    expect(lines.join('\n')).toMatch(/leaving \/run\/e8\.wpt as it is: not in the manifest and it does not verify/);
    expect(names(storage)).toEqual([
      '/run/.e_epoch_.wpt.manifest.json',
      '/run/e2.wpt',
      '/run/e3.wpt',
      '/run/e8.wpt',
      '/run/e9.wpt',
      '/run/notes.wpt',
    ]);
  });

  it('templates sharing a directory keep separate manifests and locks: one fit saves both, neither deletes the other', async () => {
    const storage = new MemoryStorage();
    await fit(
      [
        new ModelCheckpoint({ filepath: '/run/best.wpt', monitor: 'loss', saveBestOnly: true, storage }),
        new ModelCheckpoint({ filepath: '/run/epoch-{epoch}.wpt', monitor: 'loss', maxToKeep: 1, storage }),
      ],
      3,
    );
    expect(names(storage)).toEqual([
      '/run/.best.wpt.manifest.json',
      '/run/.epoch-_epoch_.wpt.manifest.json',
      '/run/best.wpt',
      '/run/epoch-3.wpt',
    ]);
  });

  it('a templated sub-directory: the manager sits in the fixed directory above and deletes the old files below it', async () => {
    const storage = new MemoryStorage();
    await fit(
      [new ModelCheckpoint({ filepath: '/run/{epoch:02d}/model.wpt', monitor: 'loss', maxToKeep: 2, storage })],
      4,
    );
    expect(names(storage)).toEqual([
      '/run/._epoch_02d__model.wpt.manifest.json',
      '/run/03/model.wpt',
      '/run/04/model.wpt',
    ]);
    await fit(
      [new ModelCheckpoint({ filepath: '/run/{epoch:02d}/model.wpt', monitor: 'loss', maxToKeep: 2, storage })],
      5,
      4,
    );
    expect(names(storage)).toEqual([
      '/run/._epoch_02d__model.wpt.manifest.json',
      '/run/04/model.wpt',
      '/run/05/model.wpt',
    ]);
  });

  it('two callbacks writing one template are refused with LOCKED before training', async () => {
    const storage = new MemoryStorage();
    const twice = () => new ModelCheckpoint({ filepath: '/run/m-{epoch}.wpt', monitor: 'loss', storage });
    const err = await fit([twice(), twice()], 1).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.code).toBe('LOCKED');
    expect(names(storage).filter((n) => n.endsWith('.wpt'))).toEqual([]);
  });
});

describe('templates own their files', () => {
  const [x, y] = dataFor('mlp');
  const names = (storage: MemoryStorage) => [...storage.files.keys()].sort();
  const fit = (callbacks: ModelCheckpoint[], epochs: number) =>
    makeModel('mlp', 1).fit(x, y, { epochs, verbose: 0, callbacks });

  it("a later template whose pattern matches another's files ('{epoch}.wpt' after 'best-{epoch}.wpt') neither adopts nor deletes them", async () => {
    const storage = new MemoryStorage();
    await fit(
      [new ModelCheckpoint({ filepath: '/run/best-{epoch}.wpt', monitor: 'loss', saveBestOnly: true, storage })],
      3,
    );
    expect(names(storage).filter((n) => /best-\d/.test(n))).toEqual([
      '/run/best-1.wpt',
      '/run/best-2.wpt',
      '/run/best-3.wpt',
    ]);
    await fit([new ModelCheckpoint({ filepath: '/run/{epoch}.wpt', monitor: 'loss', maxToKeep: 1, storage })], 3);
    expect(names(storage).filter((n) => n.endsWith('.wpt'))).toEqual([
      '/run/3.wpt',
      '/run/best-1.wpt',
      '/run/best-2.wpt',
      '/run/best-3.wpt',
    ]);
  });

  it('templates that differ only in characters outside [\\w.-] get manifests and locks of their own, and one fit saves through both', async () => {
    const storage = new MemoryStorage();
    await fit(
      [
        new ModelCheckpoint({ filepath: '/run/模型-{epoch}.wpt', monitor: 'loss', storage }),
        new ModelCheckpoint({ filepath: '/run/数据-{epoch}.wpt', monitor: 'loss', storage }),
        new ModelCheckpoint({ filepath: '/run/a+{epoch}.wpt', monitor: 'loss', storage }),
        new ModelCheckpoint({ filepath: '/run/a_{epoch}.wpt', monitor: 'loss', storage }),
      ],
      1,
    );
    const manifests = names(storage).filter((n) => n.endsWith('.manifest.json'));
    expect(manifests).toHaveLength(4);
    expect(names(storage).filter((n) => n.endsWith('.wpt'))).toEqual(
      ['/run/a+1.wpt', '/run/a_1.wpt', '/run/数据-1.wpt', '/run/模型-1.wpt'].sort(),
    );
  });

  it('a file name of 255 bytes saves (its temporary name is shortened), and a long template gets a manifest name that fits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpt-long-'));
    try {
      const long = `${'m'.repeat(240)}-{epoch}.wpt`; // 'm'×240 + '-1.wpt': 246 bytes
      const utf8 = `${'模'.repeat(82)}{epoch}.wpt`; // 246 + 5 bytes of UTF-8
      await fit(
        [
          new ModelCheckpoint({ filepath: join(dir, long), monitor: 'loss' }),
          new ModelCheckpoint({ filepath: join(dir, utf8), monitor: 'loss' }),
        ],
        2,
      );
      const files = readdirSync(dir);
      expect(files).toContain(`${'m'.repeat(240)}-2.wpt`);
      expect(files).toContain(`${'模'.repeat(82)}2.wpt`);
      for (const f of files) expect(Buffer.byteLength(f)).toBeLessThanOrEqual(255);
      expect(files.filter((f) => f.endsWith('.manifest.json'))).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("two processes saving through two templates of one directory at once: neither loses a save or a file to the other's start", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpt-templates-'));
    const child = join(import.meta.dirname, '..', 'helpers', 'template-child.ts');
    const run = (template: string, keep: string, epochs: number) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const p = spawn(process.execPath, ['--import', 'tsx', child, join(dir, template), keep, String(epochs)], {
          env: { ...process.env, WAYPOINT_BACKEND: 'cpu' },
        });
        let out = '',
          err = '';
        p.stdout.on('data', (d) => {
          out += d;
        });
        p.stderr.on('data', (d) => {
          err += d;
        });
        p.on('exit', (code) => resolve({ code, out, err }));
      });
    try {
      // The first keeps every file; the second's pattern (.*-.*\.wpt) matches the first's names,
      // and each of its starts (a manager's start sweeps its leftovers) races the first's saves.
      const first = run('best-{epoch}-{batch}.wpt', 'all', 40);
      const seconds = [];
      for (let i = 0; i < 4; i++) seconds.push(await run('{epoch}-{batch}.wpt', '1', 2));
      const a = await first;
      expect(a.err).toBe('');
      expect(a.code).toBe(0);
      expect(a.out).toMatch(/saved 240 failed 0/);
      expect(readdirSync(dir).filter((f) => f.startsWith('best-'))).toHaveLength(240);
      for (const b of seconds) expect(b.out).toMatch(/failed 0/);
      expect(readdirSync(dir).filter((f) => /^\d+-\d+\.wpt$/.test(f))).toEqual(['2-6.wpt']);
      expect(readdirSync(dir).filter((f) => f.endsWith('.wpt-tmp'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
