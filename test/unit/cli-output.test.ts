/** What `waypoint export` writes (cli/output.ts): never over its input, never over a file unasked, never half a file. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dense, Sequential } from '../../src/node/index.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js');
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
    for (const [to, out] of [
      ['onnx', model],
      ['safetensors', join(dir, '.', 'm.wpt')],
      ['onnx', join(dir, 'alias.onnx')],
    ]) {
      const r = cli('export', model, '--to', to, '--out', out, '--overwrite');
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/is the input file .*give another --out/);
    }
    expect(readFileSync(model).equals(before)).toBe(true);
  });

  it('refuses to replace an existing model.json (or any output) without --overwrite, and replaces it with it', () => {
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

describe('command-line edges', () => {
  it('export --layout with --to tfjs or onnx is refused, not ignored', () => {
    const r = cli('export', model, '--to', 'tfjs', '--layout', 'torch', '--out', join(dir, 'never'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--layout applies to --to safetensors only/);
  });

  it('tensorboard-export of a missing folder, or of one without event files, fails and writes no zip', () => {
    const zip = join(dir, 'logs.zip');
    const missing = cli('tensorboard-export', join(dir, 'no-such-logs'), '--out', zip);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/NOT_FOUND: cannot read the log directory: no such file or directory/);
    mkdirSync(join(dir, 'empty-logs'));
    const empty = cli('tensorboard-export', join(dir, 'empty-logs'), '--out', zip);
    expect(empty.status).toBe(1);
    expect(empty.stderr).toMatch(/no TensorBoard event files under .*empty-logs: nothing to export/);
    expect(readdirSync(dir)).not.toContain('logs.zip');
  });

  it('in a clone, the command runs the sources even where a dist/ left by npm pack exists', () => {
    const clone = join(dir, 'clone');
    for (const d of ['bin', 'src/cli', 'dist/src/cli']) mkdirSync(join(clone, d), { recursive: true });
    writeFileSync(join(clone, 'bin', 'waypoint.js'), readFileSync(BIN));
    writeFileSync(join(clone, 'package.json'), '{"type":"module"}');
    symlinkSync(join(import.meta.dirname, '..', '..', 'node_modules'), join(clone, 'node_modules'));
    writeFileSync(
      join(clone, 'src', 'cli', 'main.ts'),
      "export async function main(): Promise<number> { console.log('sources'); return 0; }\n",
    );
    writeFileSync(
      join(clone, 'dist', 'src', 'cli', 'main.js'),
      "export async function main() { console.log('stale dist'); return 0; }\n",
    );
    expect(spawnSync(process.execPath, [join(clone, 'bin', 'waypoint.js')], { encoding: 'utf8' }).stdout).toBe(
      'sources\n',
    );
    rmSync(join(clone, 'src'), { recursive: true }); // an installed package ships dist/ only
    expect(spawnSync(process.execPath, [join(clone, 'bin', 'waypoint.js')], { encoding: 'utf8' }).stdout).toBe(
      'stale dist\n',
    );
  });
});
