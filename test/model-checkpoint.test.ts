import { describe, it, expect } from 'vitest';
import { CheckpointError, MemoryStorage, ModelCheckpoint, loadModel } from '../src/node/index.js';
import { dataFor, makeModel } from '../harness/training.js';

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
    expect(manifest.checkpoints.map((e: { file: string; epoch: number }) => [e.file, e.epoch])).toEqual([['e4.wpt', 4], ['e5.wpt', 5]]);
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
    await fit([new ModelCheckpoint({ filepath: template, monitor: 'loss', maxToKeep: 3, storage, write: (l) => lines.push(l) })], 3, 2);
    expect(lines.join('\n')).toMatch(/leaving \/run\/e8\.wpt as it is: not in the manifest and it does not verify/);
    expect(names(storage)).toEqual(['/run/.e_epoch_.wpt.manifest.json', '/run/e2.wpt', '/run/e3.wpt', '/run/e8.wpt', '/run/e9.wpt', '/run/notes.wpt']);
  });

  it('templates sharing a directory keep separate manifests and locks: one fit saves both, neither deletes the other', async () => {
    const storage = new MemoryStorage();
    await fit([
      new ModelCheckpoint({ filepath: '/run/best.wpt', monitor: 'loss', saveBestOnly: true, storage }),
      new ModelCheckpoint({ filepath: '/run/epoch-{epoch}.wpt', monitor: 'loss', maxToKeep: 1, storage }),
    ], 3);
    expect(names(storage)).toEqual(['/run/.best.wpt.manifest.json', '/run/.epoch-_epoch_.wpt.manifest.json', '/run/best.wpt', '/run/epoch-3.wpt']);
  });

  it('a templated sub-directory: the manager sits in the fixed directory above and deletes the old files below it', async () => {
    const storage = new MemoryStorage();
    await fit([new ModelCheckpoint({ filepath: '/run/{epoch:02d}/model.wpt', monitor: 'loss', maxToKeep: 2, storage })], 4);
    expect(names(storage)).toEqual(['/run/._epoch_02d__model.wpt.manifest.json', '/run/03/model.wpt', '/run/04/model.wpt']);
    await fit([new ModelCheckpoint({ filepath: '/run/{epoch:02d}/model.wpt', monitor: 'loss', maxToKeep: 2, storage })], 5, 4);
    expect(names(storage)).toEqual(['/run/._epoch_02d__model.wpt.manifest.json', '/run/04/model.wpt', '/run/05/model.wpt']);
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
