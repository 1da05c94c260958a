import { describe, it, expect } from 'vitest';
import { rmSync } from 'node:fs';
import { killStorm } from '../../harness/kill-storm.js';

describe('SIGKILL storm', () => {
  it('30 kills at random moments, many inside saves: the result equals an uninterrupted run, every file verifies', async () => {
    const result = await killStorm(30, 2026);
    expect(result.kills).toBeGreaterThanOrEqual(30);
    expect(result.killsInsideSaves).toBeGreaterThan(0);
    expect(result.problems).toEqual([]);
    expect(result.identical).toBe(true);
    rmSync(result.dir, { recursive: true, force: true });
  }, 300_000);
});
