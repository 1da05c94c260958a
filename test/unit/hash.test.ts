/**
 * Content hashes of checkpoints (`hash: 'sha256'`): the JavaScript SHA-256 against Node's, the
 * digest taken as the file is written equal to the file's, and a substituted file — valid
 * checksums, other bytes — refused before a resume (which falls back) or a loadModel.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import {
  BackupAndRestore,
  CheckpointError,
  CheckpointManager,
  MemoryStorage,
  loadModel,
  trainingCheckpoint,
} from '../../src/node/index.js';
import { Sha256 } from '../../src/checkpoint/sha256.js';
import { dataFor, fingerprint, makeModel } from '../../harness/training.js';

const nodeSha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const manifestOf = (storage: MemoryStorage, path: string) =>
  JSON.parse(new TextDecoder().decode(storage.files.get(path))) as {
    checkpoints: Array<{ file: string; sha256?: string }>;
  };

describe('SHA-256', () => {
  it("the JavaScript implementation gives Node's digest, fed in any pieces", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.integer({ min: 1, max: 70 }), { maxLength: 8 }),
        (bytes, cuts) => {
          const h = new Sha256();
          let at = 0;
          for (const n of cuts) {
            h.update(bytes.subarray(at, at + n));
            at = Math.min(bytes.length, at + n);
          }
          h.update(bytes.subarray(at));
          expect(h.hex()).toBe(nodeSha256(bytes));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("a manager's recorded hashes", () => {
  async function twoSaves() {
    const storage = new MemoryStorage();
    const model = makeModel('mlp', 1);
    const manager = new CheckpointManager(trainingCheckpoint(model), '/run', { storage, hash: 'sha256', maxToKeep: 3 });
    const first = (await manager.save())!;
    for (const [, p] of model.namedParams()) p.data[0] += 1;
    const second = (await manager.save())!;
    await manager.close();
    return { storage, first, second };
  }

  it('records the SHA-256 of each file as written', async () => {
    const { storage, first, second } = await twoSaves();
    const entries = manifestOf(storage, '/run/manifest.json').checkpoints;
    expect(entries.map((e) => e.sha256)).toEqual([first, second].map((p) => nodeSha256(storage.files.get(p)!)));
  });

  it('a substituted latest file (valid checksums, other bytes) is refused by name and digests; the resume falls back to the one before', async () => {
    const { storage, first, second } = await twoSaves();
    storage.files.set(second, storage.files.get(first)!.slice()); // a whole, valid checkpoint — not the one saved
    const warnings: string[] = [];
    const model = makeModel('mlp', 2);
    const manager = new CheckpointManager(trainingCheckpoint(model), '/run', {
      storage,
      hash: 'sha256',
      warn: (m) => warnings.push(m),
    });
    expect(await manager.restoreOrInitialize()).toBe(first);
    await manager.close();
    const recorded = manifestOf(storage, '/run/manifest.json').checkpoints[1].sha256!;
    expect(warnings.join('\n')).toContain(
      `HASH_MISMATCH: SHA-256 ${nodeSha256(storage.files.get(second)!)}, the manifest recorded ${recorded}`,
    );
    const err = await loadModel(second, { storage }).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.code).toBe('HASH_MISMATCH');
    expect(err.message).toContain(second);
    await expect(loadModel(first, { storage })).resolves.toBeDefined();
  });

  it('BackupAndRestore with hash resumes exactly, checking the backup it restores', async () => {
    const [x, y] = dataFor('mlp');
    const options = { epochs: 3, batchSize: 8, verbose: 0 as const };
    const straight = makeModel('mlp', 3);
    await straight.fit(x, y, options);
    const storage = new MemoryStorage();
    const backup = () => new BackupAndRestore({ backupDir: '/b', storage, saveFreq: 5, hash: 'sha256' });
    class Stop extends (await import('../../src/node/index.js')).Callback {
      private n = 0;
      override async onBatchEnd() {
        if (++this.n === 13) throw new Error('stopped');
      }
    }
    await expect(makeModel('mlp', 3).fit(x, y, { ...options, callbacks: [backup(), new Stop()] })).rejects.toThrow(
      'stopped',
    );
    expect(manifestOf(storage, '/b/manifest.json').checkpoints[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    const resumed = makeModel('mlp', 3);
    await resumed.fit(x, y, { ...options, callbacks: [backup()] });
    expect(fingerprint(resumed)).toEqual(fingerprint(straight));
  });
});
