/** What `waypoint export` writes (cli/output.ts): never over its input, never over a file unasked, never half a file. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dense, Sequential } from '../src/node/index.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'waypoint.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

let dir: string, model: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wpt-export-'));
  model = join(dir, 'm.wpt');
  await new Sequential([new Dense({ units: 2, inputShape: [3] })], { seed: 1 }).save(model);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('waypoint export outputs', () => {
  it('refuses --out naming the checkpoint it exports, by any name, and leaves it intact', () => {
    const before = readFileSync(model);
    symlinkSync(model, join(dir, 'alias.onnx'));
    for (const [to, out] of [['onnx', model], ['safetensors', join(dir, '.', 'm.wpt')], ['onnx', join(dir, 'alias.onnx')]]) {
      const r = cli('export', model, '--to', to, '--out', out, '--overwrite');
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/is the input file .*give another --out/);
    }
    expect(readFileSync(model).equals(before)).toBe(true);
  });

  it("refuses to replace an existing model.json (or any output) without --overwrite, and replaces it with it", () => {
    const out = join(dir, 'tfjs');
    mkdirSync(out);
    writeFileSync(join(out, 'model.json'), 'mine');
    const refused = cli('export', model, '--to', 'tfjs', '--out', out);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/tfjs\/weights\.bin|tfjs\/model\.json/);
    expect(refused.stderr).toMatch(/exists; give another --out, or --overwrite to replace it/);
    expect(readFileSync(join(out, 'model.json'), 'utf8')).toBe('mine');
    expect(cli('export', model, '--to', 'tfjs', '--out', out, '--overwrite').status).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).format).toBe('layers-model');
  });

  it('writes through a temporary file renamed into place: no leftover, nothing partial', () => {
    const out = join(dir, 'sub', 'w.safetensors');
    expect(cli('export', model, '--to', 'safetensors', '--layout', 'torch', '--out', out).status).toBe(0);
    expect(readdirSync(join(dir, 'sub')).sort()).toEqual(['w.py', 'w.safetensors']);
  });
});
