/** `waypoint train` run by two processes on one run directory (cli/train.ts holds the run's lock from start to end). */
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js');

function train(run: string, delayMs = 0): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  return new Promise((resolve) =>
    setTimeout(() => {
      const started = performance.now();
      const p = spawn(process.execPath, [BIN, 'train', '--model', 'mlp', '--epochs', '2', '--run', run], {
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
      p.on('exit', (code) => resolve({ code, out, err, ms: performance.now() - started }));
    }, delayMs),
  );
}

describe('waypoint train started while another finishes the same run', () => {
  it('never retrains from scratch: the second one is refused with LOCKED or finds the run complete, and log.csv has each epoch once', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wpt-train-race-'));
    try {
      const alone = await train(join(root, 'alone'));
      expect(alone.code).toBe(0);
      // The second starts at points spread over the first's last part, where its end races the second's start.
      for (const share of [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]) {
        const run = join(root, `run-${share}`);
        const [first, second] = await Promise.all([train(run), train(run, alone.ms * share)]);
        expect(first.code).toBe(0);
        const outcome = `${second.out}${second.err}`;
        if (second.code === 0) expect(outcome).toMatch(/is complete: 2 epochs trained/);
        else expect(outcome).toMatch(/LOCKED: .* is being written by pid \d+/);
        expect(outcome).not.toMatch(/training mlp on MNIST/);
        const epochs = readFileSync(join(run, 'log.csv'), 'utf8')
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.split(',')[0]);
        expect(epochs).toEqual(['0', '1']);
        expect(existsSync(join(run, 'run.lock'))).toBe(false);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});
