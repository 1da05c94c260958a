/**
 * Issue 19, item 5: the new state resumes bit-exactly. A model with BatchNormalization and an
 * LSTM trained by AdamW on a warmed-up CosineDecay, and an MLP under SGD whose rate
 * ReduceLROnPlateau lowers, are each SIGKILLed at a random batch (fast-check) and resumed
 * by BackupAndRestore in a new process: weights (moving statistics included), optimizer
 * slots and rate, schedule step, the plateau's best/wait/cooldown (through the rate and the
 * history), RNG and history, and the CSV, equal an uninterrupted run's bit for bit.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, ReduceLROnPlateau } from '../../src/node/index.js';
import { dataFor, makeModel } from '../../harness/training.js';

const child = join(import.meta.dirname, '..', 'helpers', 'resume-child.ts');
const tsx = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'tsx');
let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'wpt-resume-layers-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BATCHES = 4 * 6; // 4 epochs of 48 training samples in batches of 8

describe('BatchNormalization + LSTM + AdamW + CosineDecay, and SGD + ReduceLROnPlateau, resume bit-exactly in a new process', () => {
  for (const kind of ['sequence', 'plateau'] as const) {
    it(`${kind}: SIGKILL at a random batch, BackupAndRestore every 2 batches`, () => {
      const straight = mkdtempSync(join(dir, `${kind}-s-`));
      execFileSync(tsx, [child, straight, kind, '2', '-1', join(straight, 'out.json')]);
      const reference = readFileSync(join(straight, 'out.json'), 'utf8');
      const history = JSON.parse(JSON.parse(reference).history) as { history: Record<string, number[]> };
      if (kind === 'plateau') expect(new Set(history.history.learning_rate).size).toBeGreaterThan(1); // the reducer did act
      fc.assert(fc.property(fc.integer({ min: 1, max: BATCHES - 1 }), (killAt) => {
        const run = mkdtempSync(join(dir, `${kind}-k-`));
        const killed = spawnSync(tsx, [child, run, kind, '2', String(killAt), join(run, 'out.json')]);
        expect(killed.signal === 'SIGKILL' || killed.status === 128 + 9, `the child died of SIGKILL (${killed.signal ?? killed.status}): ${killed.stderr}`).toBe(true);
        expect(existsSync(join(run, 'out.json'))).toBe(false);
        execFileSync(tsx, [child, run, kind, '2', '-1', join(run, 'out.json')]);
        expect(readFileSync(join(run, 'out.json'), 'utf8')).toBe(reference);
        expect(readFileSync(join(run, 'log.csv'), 'utf8')).toBe(readFileSync(join(straight, 'log.csv'), 'utf8'));
      }), { numRuns: 3, examples: [[14]] }); // 14: inside epoch 3, where the plateau's wait decides the reduction
    });
  }

  it('ReduceLROnPlateau refuses an optimizer on a schedule, before training, saying why', async () => {
    const model = makeModel('sequence', 1);
    const [x, y] = dataFor('sequence');
    const err = await model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [new ReduceLROnPlateau()] }).catch((e) => e);
    expect(err.message).toMatch(/ReduceLROnPlateau: the optimizer's learning rate follows a CosineDecay schedule.*plain learningRate/);
    expect(err).not.toBeInstanceOf(CheckpointError);
    expect(model.optimizer!.iterations).toBe(0);
  });
});
