/**
 * The bound time-based backups promise, measured on real processes killed by SIGKILL: at most
 * the interval plus one batch of work is lost. A child trains with batches of about 20 ms and
 * BackupAndRestore({ saveFreq: { seconds: 0.3 } }), printing each batch it finishes; it is
 * killed at a random moment, and the work lost is the batches it finished minus the batch
 * the newest backup holds.
 */
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../../src/node/index.js';

const child = join(import.meta.dirname, '..', 'helpers', 'timed-backup-child.ts');
const INTERVAL_MS = 300,
  BATCH_MS = 20;

/** Runs the child until `killAfterMs` past its first batch, SIGKILLs it; returns the last batch it reported. */
function runAndKill(dir: string, killAfterMs: number): Promise<{ finished: number; lifetimeMs: number }> {
  return new Promise((resolve, reject) => {
    // Node itself runs the trainer (tsx as a loader), so the SIGKILL reaches the process that trains.
    const p = spawn(process.execPath, ['--import', 'tsx', child, dir, String(INTERVAL_MS), String(BATCH_MS)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: join(import.meta.dirname, '..', '..'),
    });
    let out = '',
      started = 0,
      err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (started === 0) {
        started = Date.now();
        setTimeout(() => p.kill('SIGKILL'), killAfterMs);
      }
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`the child ended by itself: ${err}`));
      const lines = out.trim().split('\n');
      resolve({ finished: Number(lines.at(-1)), lifetimeMs: Date.now() - started });
    });
  });
}

describe('time-based backups under SIGKILL', () => {
  it(`lose at most ${INTERVAL_MS} ms plus one batch of work per kill (measured on 6 kills)`, async () => {
    const rng = new Random(17);
    const lost: number[] = [];
    for (let k = 0; k < 6; k++) {
      const dir = mkdtempSync(join(tmpdir(), 'wpt-timed-'));
      try {
        const { finished } = await runAndKill(dir, 700 + Math.floor(rng.uniform() * 900));
        const manifest = join(dir, 'backup', 'manifest.json');
        expect(existsSync(manifest), 'a backup exists after more than one interval').toBe(true);
        const [entry] = JSON.parse(readFileSync(manifest, 'utf8')).checkpoints as Array<{ step: number }>;
        // Each batch is reported before a backup can hold it: lost ≥ 0.
        lost.push(finished - entry.step);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    console.log(`batches lost per kill: ${lost.join(', ')} (batches of ~${BATCH_MS} ms, interval ${INTERVAL_MS} ms)`);
    // The interval's batches (it counts from the end of a backup, which itself takes a moment) plus the one in flight.
    const bound = Math.ceil(INTERVAL_MS / BATCH_MS) + 1;
    for (const l of lost) expect(l).toBeGreaterThanOrEqual(0);
    for (const l of lost) expect(l).toBeLessThanOrEqual(bound);
  }, 120_000);
});
