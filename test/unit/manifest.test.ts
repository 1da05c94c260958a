/**
 * The manifest as an attack surface: a run directory copied from someone else, or tampered
 * with, must never make a manager read, adopt or delete a file outside its directory.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import fc from 'fast-check';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Checkpoint,
  CheckpointError,
  CheckpointManager,
  MANIFEST_NAME,
  MemoryStorage,
  Variable,
  latestCheckpoint,
} from '../../src/node/index.js';
import { parseManifest } from '../../src/checkpoint/manifest.js';
import { staysInside } from '../../src/paths.js';

const manifestOf = (fields: Record<string, unknown>) =>
  JSON.stringify({
    format: 'waypoint-manifest',
    version: 1,
    checkpointName: 'ckpt',
    policy: { maxToKeep: 1, keepEveryNHours: null, bestOf: null, maxBytes: null },
    lastPreservedTime: '2026-01-01T00:00:00.000Z',
    checkpoints: [],
    ...fields,
  });
const entry = (file: unknown) => ({
  file,
  step: 1,
  metrics: {},
  time: '2026-01-01T00:00:00.000Z',
  size: 10,
  headerCrc32: 0,
});

describe('paths read from a manifest', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'wpt-manifest-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("a checkpoint entry '../victim.txt': two saves with maxToKeep 1 leave the file outside the run alone", async () => {
    const run = join(root, 'run');
    mkdirSync(run);
    writeFileSync(join(root, 'victim.txt'), 'precious');
    writeFileSync(join(run, MANIFEST_NAME), manifestOf({ checkpoints: [entry('../victim.txt')] }));
    const warnings: string[] = [];
    const manager = new CheckpointManager(new Checkpoint({ v: new Variable(1) }), run, {
      maxToKeep: 1,
      warn: (m) => warnings.push(m),
    });
    await manager.save();
    await manager.save();
    await manager.close();
    expect(readFileSync(join(root, 'victim.txt'), 'utf8')).toBe('precious');
    expect(warnings.join('\n')).toMatch(
      /names paths outside .*ignored \(never read or deleted\): checkpoints\[0\]: "\.\.\/victim\.txt"/,
    );
    expect(manager.checkpoints).toEqual([join(run, 'ckpt-2.wpt')]);
  });

  it("a preserved entry '../../victim2.txt' survives deleteAll (what BackupAndRestore does at train end)", async () => {
    const run = join(root, 'a', 'run');
    mkdirSync(run, { recursive: true });
    writeFileSync(join(root, 'victim2.txt'), 'precious');
    writeFileSync(
      join(run, MANIFEST_NAME),
      manifestOf({ preserved: [entry('../../victim2.txt')], removing: ['../../victim2.txt'] }),
    );
    const manager = new CheckpointManager(new Checkpoint({ v: new Variable(1) }), run, { warn: () => undefined });
    await manager.save();
    await manager.deleteAll();
    expect(readFileSync(join(root, 'victim2.txt'), 'utf8')).toBe('precious');
    expect(existsSync(run)).toBe(false); // the manager's own files are gone, and so the empty directory
  });

  it("latest '../../../../etc/passwd': latestCheckpoint refuses with UNSAFE_PATH instead of returning /etc/passwd", async () => {
    writeFileSync(join(root, MANIFEST_NAME), manifestOf({ latest: '../../../../etc/passwd' }));
    const err = await latestCheckpoint(root).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.code).toBe('UNSAFE_PATH');
    expect(err.message).toMatch(/latest: "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd"/);
  });

  it('staysInside accepts exactly the relative paths that stay below their directory', () => {
    for (const ok of ['a.wpt', 'sub/a.wpt', './a.wpt', 'a/../b.wpt', '模型-1.wpt']) expect(staysInside(ok)).toBe(true);
    for (const bad of ['', '.', '..', '../a', 'a/../../b', '/etc/passwd', 'a\0b', 'dir/', 7, null, { file: 'a' }])
      expect(staysInside(bad)).toBe(false);
  });

  it('a manifest whose entries are not objects is parsed with those entries refused, not a TypeError', () => {
    const { manifest, refused } = parseManifest(
      new TextEncoder().encode(manifestOf({ checkpoints: [null, 5, entry('ok.wpt')], preserved: 'x', latest: 3 })),
    );
    expect(manifest.checkpoints.map((e) => e.file)).toEqual(['ok.wpt']);
    expect(manifest.preserved).toEqual([]);
    expect(refused).toEqual(['checkpoints[0]: null', 'checkpoints[1]: 5', 'latest: 3']);
  });
});

/** Paths an attacker (or an unlucky copy) may write into a manifest. */
const hostilePath = fc.oneof(
  fc.constantFrom(
    '../victim',
    '../../victim',
    '/abs/victim',
    '../run-sibling/ckpt-1.wpt',
    'sub/../../victim',
    './../victim',
    '..',
    '.',
    '',
  ),
  fc
    .array(fc.constantFrom('..', '.', 'sub', 'victim', 'ckpt-1.wpt', ''), { minLength: 1, maxLength: 5 })
    .map((p) => p.join('/')),
  fc.string({ maxLength: 12 }),
  fc.constantFrom(null, 5, {}, ['x']),
);

describe('hostile manifests (property)', () => {
  it('whatever a manifest names, retention, adoption, deleteAll and latestCheckpoint touch nothing outside the run', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          checkpoints: fc.array(hostilePath.map(entry), { maxLength: 4 }),
          preserved: fc.array(hostilePath.map(entry), { maxLength: 3 }),
          unmanaged: fc.array(hostilePath.map(entry), { maxLength: 2 }),
          removing: fc.array(hostilePath, { maxLength: 3 }),
          latest: hostilePath,
        }),
        fc.integer({ min: 1, max: 3 }),
        async (fields, saves) => {
          const storage = new MemoryStorage();
          const outside = [
            '/victim',
            '/abs/victim',
            '/root/victim',
            '/root/run-sibling/ckpt-1.wpt',
            '/root/sub/victim',
          ];
          for (const p of outside) storage.files.set(p, new TextEncoder().encode(p));
          storage.files.set('/root/run/manifest.json', new TextEncoder().encode(manifestOf(fields)));
          const manager = new CheckpointManager(new Checkpoint({ v: new Variable(1) }), '/root/run', {
            storage,
            maxToKeep: 1,
            warn: () => undefined,
          });
          for (let i = 0; i < saves; i++) await manager.save();
          const latest = await latestCheckpoint('/root/run', storage);
          expect(latest === null || latest.startsWith('/root/run/')).toBe(true);
          await manager.deleteAll();
          for (const p of outside) expect(new TextDecoder().decode(storage.files.get(p))).toBe(p);
          // Before the run's own manifest is rewritten, latestCheckpoint refuses, or answers inside the run.
          storage.files.set('/root/run/manifest.json', new TextEncoder().encode(manifestOf(fields)));
          const answer = await latestCheckpoint('/root/run', storage).catch((e: CheckpointError) => e);
          expect(
            answer === null ||
              (typeof answer === 'string' && answer.startsWith('/root/run/')) ||
              (answer instanceof CheckpointError && answer.code === 'UNSAFE_PATH'),
          ).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
