/**
 * What `hash: 'sha256'` costs: saves of a 128 MiB model through a CheckpointManager on the
 * file system with and without it (the digest taken as the file is written), alternating,
 * medians; and the check before a restore (a read pass hashing the file). Per GB.
 * `npm run bench -- hash [--quick]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint, CheckpointManager, Random, Tensor, getDefaultStorage } from '../src/node/index.js';
import { fileSha256 } from '../src/checkpoint/hash.js';
import { median, table } from './common.js';

const quick = process.argv.includes('--quick');

export async function run(): Promise<void> {
  const rounds = quick ? 2 : 5;
  const dir = mkdtempSync(join(tmpdir(), 'wpt-hash-'));
  try {
    const rng = new Random(1);
    const state = Object.fromEntries(
      [0, 1, 2, 3].map((i) => [`w${i}`, new Tensor(rng.fillNormal(new Float32Array(8 << 20), 0, 1), [8 << 20])]),
    );
    const model = { stateDict: () => state, loadStateDict: () => undefined };
    const gb = (4 * 4 * (8 << 20)) / 1e9;
    const times: Record<string, number[]> = { plain: [], sha256: [], check: [] };
    for (let r = 0; r < rounds; r++)
      for (const kind of r % 2 ? (['sha256', 'plain'] as const) : (['plain', 'sha256'] as const)) {
        const manager = new CheckpointManager(new Checkpoint({ model }), join(dir, `${kind}-${r}`), {
          ...(kind === 'sha256' ? { hash: 'sha256' as const } : {}),
        });
        const t = performance.now();
        const path = (await manager.save())!;
        times[kind].push((performance.now() - t) / 1000);
        await manager.close();
        if (kind === 'sha256') {
          const c = performance.now();
          await fileSha256(getDefaultStorage(), path);
          times.check.push((performance.now() - c) / 1000);
        }
      }
    const [p, s, c] = [median(times.plain), median(times.sha256), median(times.check)];
    console.log(`\nSaves of ${(gb * 1000).toFixed(0)} MB (default codec), medians of ${rounds}, alternating`);
    console.log(
      table(
        ['', 'seconds', 'per GB'],
        [
          ['save', p, `${(p / gb).toFixed(2)} s`],
          ["save with hash: 'sha256'", s, `${(s / gb).toFixed(2)} s (+${(((s - p) / gb) * 1000).toFixed(0)} ms)`],
          ['the check before a restore (read + hash)', c, `${(c / gb).toFixed(2)} s`],
        ],
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
